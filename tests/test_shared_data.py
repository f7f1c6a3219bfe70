"""Tests that need ../shared/datasets skip without it, and fail under CI; AgentClinic's MedQA
files come from the bundled copies, which are the upstream files byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import shared_data

UPSTREAM_SHA256 = {  # AgentClinic commit b6570ede (scenarios/data/ATTRIBUTION.md)
    "agentclinic_medqa.jsonl": "d91038a2984f21bb1d43edd88c7958d090ef42ba80f5be487b22b903bf3a35ea",
    "agentclinic_medqa_extended.jsonl": "54a024eb2705c6c55d1988766adf4ab02ea7bbe2a28f843107b740032200f232",
}


def test_absent_shared_data_skips_here_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs the shared datasets"):
        shared_data.shared("medqa/medqa_us_4options_test.jsonl")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="needs the shared datasets"):
        shared_data.agentclinic("agentclinic_nejm.jsonl")


@pytest.mark.parametrize("name", sorted(UPSTREAM_SHA256))
def test_the_bundled_agentclinic_files_are_the_upstream_ones(name: str) -> None:
    path = shared_data.agentclinic(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == UPSTREAM_SHA256[name]
