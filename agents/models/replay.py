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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from clinsim.agents.models.base import (
    ChatRequest,
    ChatResponse,
    ModelError,
    ToolCall,
    Usage,
)
from clinsim.agents.models.registry import backend
from clinsim.environments.context import current_call
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
        call = current_call()
        if call is None:
            raise ReplayDiverged("replay answers the calls of a role playing an episode only")
        episode = self.episode or call.episode_id
        where = f"episode {episode} role {call.role} call {call.index}"
        recorded = self.calls.get((episode, call.role, call.index))
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


@backend("replay", config=ReplayConfig)
def replay_backend(name: str, config: ReplayConfig) -> ReplayModel:
    """Answers each call from a stored run's recorded calls."""
    return ReplayModel(name, config)
