"""Data the tests read from `../shared/datasets` (next to the repository), and what stands in
for it where its licence lets clinsim ship a copy.

AgentClinic's MedQA files are MIT and bundled unmodified (`scenarios/data/`); the tests read
those copies. NEJM files (rights unclear), the original MIMIC-IV demo tables and MedQA's own
question file are not bundled: a test that needs one skips when it is absent, and fails when
the environment variable CI is set, so a CI machine without the data never passes silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
BUNDLED_AGENTCLINIC = {"agentclinic_medqa.jsonl", "agentclinic_medqa_extended.jsonl"}


def shared(relative: str) -> Path:
    """`../shared/datasets/<relative>`; skips the test when absent (fails under CI)."""
    path = SHARED / relative
    if path.exists():
        return path
    message = f"{path} is not here: this test needs the shared datasets next to the repository"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def agentclinic(name: str) -> Path:
    """One of AgentClinic's files: the bundled copy when clinsim ships it, else the shared one."""
    if name in BUNDLED_AGENTCLINIC:
        return ROOT / "scenarios" / "data" / name
    return shared(f"agentclinic/{name}")
