"""Provider `replay`: answer each model call from a stored run.

`replay/RUN`, where RUN is a run directory or a run id under `./runs` (setting `runs_dir`
changes that). The recorded `ModelCalled` events come from the run store
(`clinsim.environments.run_store`). A request is matched on the model call in progress
(`clinsim.environments.context.current_call`: episode, role, index: the index-th call of that
role in that episode); when its messages differ from the recorded ones
the replay has diverged and says where, rather than guessing. A recorded failure is replayed as
the same `ModelError`.

Setting `replay_episode` answers every request from that one stored episode (a fork under a new
episode id replays the original's calls up to the fork).

`ReplayThenLive` answers from a recording while the conversation matches it and from the live
model after; `ResumedPool` gives every model of an episode played again (after `--resume`, or a
retry of a failed attempt) that treatment, from the calls its earlier attempt recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from clinsim.agents.models.base import (
    ChatModel,
    ChatRequest,
    ChatResponse,
    ModelError,
    ToolCall,
    Usage,
)
from clinsim.agents.models.registry import ModelPool, backend, config_key
from clinsim.environments.call_storage import call_index
from clinsim.environments.context import ModelCall, current_call
from clinsim.environments.events import ModelCalled
from clinsim.environments.run_store import RunStore, StoreError, resolve_run_dir
from clinsim.plugins import Config


class ReplayConfig(Config):
    runs_dir: str = Field(default="runs", description="Where run ids are looked up.")
    replay_episode: str | None = Field(
        default=None, description="Answer every call from this one stored episode."
    )


class ReplayDiverged(ModelError):
    """The request is not the one recorded at this position (or there is none)."""


CallKey = tuple[str, str, int]


def load_calls(run_dir: Path) -> dict[CallKey, ModelCalled]:
    """Recorded model calls keyed by (episode id, role, index within that role)."""
    try:
        recorded = RunStore(run_dir).model_calls()
    except StoreError as error:
        raise ModelError(f"replay: {error}") from error
    calls: dict[CallKey, ModelCalled] = {}
    counters: dict[tuple[str, str], int] = {}
    for episode_id, call in recorded:
        index = counters.get((episode_id, call.role), 0)
        counters[(episode_id, call.role)] = index + 1
        calls[(episode_id, call.role, index)] = call
    return calls


def _difference(recorded: list[dict[str, Any]], now: list[dict[str, Any]]) -> str | None:
    if recorded == now:
        return None
    for position, (old, new) in enumerate(zip(recorded, now, strict=False)):
        if old != new:
            fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            field = fields[0] if fields else "?"
            return (
                f"message {position} ({new.get('role')}) differs in {field!r}: "
                f"recorded {str(old.get(field))[:120]!r}, now {str(new.get(field))[:120]!r}"
            )
    return f"recorded {len(recorded)} messages, now {len(now)}"


def answer(recorded: ModelCalled | None, request: ChatRequest, call: ModelCall) -> ChatResponse:
    """The recorded reply to `request`; `ReplayDiverged` when there is none or the recorded
    request differs, the recorded `ModelError` when the call failed."""
    where = f"episode {call.episode_id} role {call.role} call {call.index}"
    if recorded is None:
        raise ReplayDiverged(f"replay diverged at {where}: the stored run has no such call")
    now = [message.model_dump(mode="json") for message in request.messages]
    difference = _difference(recorded.messages, now)
    if difference is not None:
        raise ReplayDiverged(f"replay diverged at {where}: {difference}")
    if recorded.error:
        raise ModelError(recorded.error, recorded.retries)
    return ChatResponse(
        text=recorded.output,
        tool_calls=[ToolCall.model_validate(raw) for raw in recorded.tool_calls],
        usage=Usage(
            prompt_tokens=recorded.usage.get("prompt_tokens", 0),
            completion_tokens=recorded.usage.get("completion_tokens", 0),
        ),
        latency_s=recorded.latency_s,
        thinking=recorded.thinking,
        finish_reason=recorded.finish_reason,
        retries=list(recorded.retries),
    )


def _current() -> ModelCall:
    call = current_call()
    if call is None:
        raise ReplayDiverged("replay answers the calls of a role playing an episode only")
    return call


class ReplayModel:
    """Answers calls from the model_called events of one stored run."""

    def __init__(self, name: str, settings: ReplayConfig):
        self.address = f"replay/{name}"
        try:
            self.run_dir = resolve_run_dir(name, settings.runs_dir)
        except StoreError as error:
            raise ModelError(f"replay: no stored run {name!r} ({error})") from None
        self.episode = settings.replay_episode
        self.calls = load_calls(self.run_dir)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        call = _current()
        episode = self.episode or call.episode_id
        recorded = self.calls.get((episode, call.role, call.index))
        return answer(recorded, request, ModelCall(episode, call.role, call.index))


class RecordedCalls:
    """Answers the calls of one episode from calls recorded for it (by role and call number)."""

    def __init__(self, calls: Iterable[ModelCalled]):
        self.address = "replay/recorded"
        self.calls = {(call.role, call_index(call)): call for call in calls}

    async def chat(self, request: ChatRequest) -> ChatResponse:
        call = _current()
        return answer(self.calls.get((call.role, call.index)), request, call)


class ReplayThenLive:
    """Answers from the recording while the conversation matches it, then from the live model."""

    def __init__(self, address: str, replay: ChatModel, live: ChatModel | None):
        self.address = address  # the role's own address: its judge name and records keep it
        self.replay, self.live = replay, live
        self.diverged = False

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if not self.diverged:
            try:
                return await self.replay.chat(request)
            except ReplayDiverged:
                if self.live is None:
                    raise
                self.diverged = True
        assert self.live is not None
        return await self.live.chat(request)


class ResumedPool(ModelPool):
    """The models of one episode played again: each answers from the calls its earlier attempt
    recorded for as long as the conversation matches them, then from `live`'s model."""

    def __init__(self, live: ModelPool, calls: Iterable[ModelCalled]):
        super().__init__()
        self.live = live
        self.recorded = RecordedCalls(calls)
        self._wrapped: dict[tuple[str, str], ChatModel] = {}

    def get(self, address: str, config: BaseModel | None = None) -> ChatModel:
        key = (address, config_key(config))
        if key not in self._wrapped:
            live = self.live.get(address, config)
            self._wrapped[key] = ReplayThenLive(address, self.recorded, live)
        return self._wrapped[key]

    async def aclose(self) -> None:
        """The live models belong to the run's pool, which closes them."""


@backend("replay", config=ReplayConfig)
def replay_backend(name: str, config: ReplayConfig) -> ReplayModel:
    """Answers each call from a stored run's recorded calls."""
    return ReplayModel(name, config)
