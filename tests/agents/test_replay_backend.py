"""The `replay` backend: calls recorded against a live server are answered again from the run
store, identically; a different prompt at the same position is reported as a divergence."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from clinsim.agents.llm.recording import call_model
from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ModelError,
)
from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.models.openai import OpenAIConfig
from clinsim.agents.models.registry import load_model
from clinsim.agents.models.replay import ReplayConfig
from clinsim.environments.context import Episode, ModelCall, calling
from clinsim.environments.events import ModelCalled
from clinsim.environments.roles import RoleFailure
from clinsim.environments.run_store import EpisodeRecord, RunStore

RUN_ID = "20260101-000000-test"


def _request(text: str) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="You are a physician."),
            ChatMessage(role="user", content=text),
        ],
        max_tokens=32,
    )


def _tool_reply(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]["content"]
    if "order" in last:
        call = {"name": "order_test", "arguments": '{"test": "ECG"}'}
        return {"content": "<unused94>need ECG<unused95>", "tool_calls": [
            {"id": "c1", "type": "function", "function": call}]}  # fmt: skip
    return {"content": f"echo: {last}"}


def _store(run_dir: Path, events: list[ModelCalled]) -> None:
    store = RunStore(run_dir)
    store.create(RUN_ID, {})
    numbered = [event.model_copy(update={"seq": seq}) for seq, event in enumerate(events)]
    record = EpisodeRecord(
        episode_id="ep1", position=0, scenario_id="s1", reference="ref",
        termination="diagnosed", detail="", diagnosis=None, correct=False, judge="rules",
        verdict_reason="", turns=1, tests=0, tool_calls=0, cost=0.0, wall_s=0.0, seed=0,
    )  # fmt: skip
    store.write_episode(RUN_ID, record, list(numbered))


PLAN = [("doctor", "Any chest pain?"), ("patient", "order an ECG"), ("doctor", "Thanks.")]


async def _record(run_dir: Path, faults: list[str]) -> list[ModelCalled]:
    async with LoopbackServer(responder=_tool_reply, faults=faults) as server:
        settings = OpenAIConfig(base_urls=[server.base_url], retry_backoff_s=0.01, max_retries=1)
        events = await _replay(load_model("openai/medgemma", settings), PLAN)
    _store(run_dir, events)
    return events


async def _replay(model: Any, plan: list[tuple[str, str]]) -> list[ModelCalled]:
    """Each call of `plan` made by its role in episode ep1, numbered per role as in a run."""
    episode = Episode("ep1")
    events: list[ModelCalled] = []
    for role, text in plan:
        with episode.step(1) as recorded, contextlib.suppress(RoleFailure):
            await call_model(model, _request(text), role)
        [event] = recorded
        assert isinstance(event, ModelCalled)
        events.append(event)
    return events


def _comparable(event: ModelCalled) -> dict[str, Any]:
    return event.model_dump(exclude={"latency_s", "model", "seq", "at"})


async def test_replay_reproduces_recorded_calls(tmp_path: Path) -> None:
    recorded = await _record(tmp_path / RUN_ID, faults=["500"])
    assert recorded[0].retries and "HTTP 500" in recorded[0].retries[0]
    assert recorded[1].tool_calls[0]["arguments"] == {"test": "ECG"}
    assert recorded[1].thinking == "need ECG"
    replay = load_model(f"replay/{tmp_path / RUN_ID}")
    replayed = await _replay(replay, PLAN)
    assert [_comparable(e) for e in replayed] == [_comparable(e) for e in recorded]


async def test_replay_by_run_id_under_runs_dir(tmp_path: Path) -> None:
    await _record(tmp_path / RUN_ID, faults=[])
    replay = load_model(f"replay/{RUN_ID}", ReplayConfig(runs_dir=str(tmp_path)))
    with calling(ModelCall(episode_id="ep1", role="doctor", index=0)):
        response = await replay.chat(_request("Any chest pain?"))
    assert response.text == "echo: Any chest pain?"
    with pytest.raises(ModelError, match="replay answers the calls of a role playing an episode"):
        await replay.chat(_request("Any chest pain?"))


async def test_recorded_failure_is_replayed_as_the_same_error(tmp_path: Path) -> None:
    recorded = await _record(tmp_path / RUN_ID, faults=["500", "500"])
    assert recorded[0].error and "gave up after 2 attempts" in recorded[0].error
    replayed = await _replay(load_model(f"replay/{tmp_path / RUN_ID}"), PLAN[:1])
    assert replayed[0].error == recorded[0].error
    assert replayed[0].retries == recorded[0].retries


async def test_divergent_prompt_is_reported(tmp_path: Path) -> None:
    await _record(tmp_path / RUN_ID, faults=[])
    replay = load_model(f"replay/{tmp_path / RUN_ID}")
    changed = [PLAN[0], ("patient", "order a chest X-ray")]
    replayed = await _replay(replay, changed)
    assert replayed[0].error is None
    message = str(replayed[1].error)
    assert message.startswith("replay diverged at episode ep1 role patient call 0:")
    assert "message 1 (user) differs in 'content'" in message
    assert "'order an ECG'" in message and "'order a chest X-ray'" in message
    extra = await _replay(replay, [*PLAN, ("doctor", "one more")])
    assert "no such call" in str(extra[-1].error)


def test_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no stored run 'nope'"):
        load_model("replay/nope", ReplayConfig(runs_dir=str(tmp_path)))
