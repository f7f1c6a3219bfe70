"""`clinsim run` with the LLM doctor, patient and judge served by a real vLLM server (a tiny
random Gemma 3: replies are gibberish, so episodes end at the turn limit or on a protocol error,
but every call goes through vLLM and is recorded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clinsim.agents.models.vllm_local import VLLMServer
from clinsim.environments.events import ModelCalled
from clinsim.environments.run_store import RunStore

pytestmark = pytest.mark.vllm

FINISHED = {"diagnosed", "turn_limit", "protocol_error"}


def _run(server: VLLMServer, out: Path, protocol: str) -> RunStore:
    command = [
        str(Path(sys.executable).parent / "clinsim"), "run", "agentclinic-medqa", "--limit", "3",
        "--doctor", "openai/tiny", "--patient", "openai/tiny",
        "--judge", "rules", "--judge", "openai/tiny",
        "--base-url", server.base_url, "--doctor-protocol", protocol,
        "--max-turns", "2", "--max-concurrency", "3", "--out", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return RunStore(out)


@pytest.mark.parametrize("protocol", ["agentclinic", "tools"])
def test_run_completes_against_vllm(vllm_server: VLLMServer, tmp_path: Path, protocol: str) -> None:
    store = _run(vllm_server, tmp_path / protocol, protocol)
    episodes = store.episodes()
    assert len(episodes) == 3
    assert {e.termination for e in episodes} <= FINISHED, [
        (e.termination, e.detail) for e in episodes
    ]
    calls = [
        event
        for episode in episodes
        for event in store.events(episode.episode_id)
        if isinstance(event, ModelCalled)
    ]
    assert all(call.error is None and call.usage["completion_tokens"] > 0 for call in calls)
    if protocol == "agentclinic":  # every reply is a question, so the patient answers
        assert {call.role for call in calls} >= {"doctor", "patient"}
    else:  # gibberish never makes a tool call: repair prompt, then a protocol error
        assert {e.termination for e in episodes} == {"protocol_error"}
        doctor_calls = [call for call in calls if call.role == "doctor"]
        assert doctor_calls and all(call.params["tools"] for call in doctor_calls)
