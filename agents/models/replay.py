"""Provider `replay`: answer each model call from a stored run.

`replay/RUN`, where RUN is a run directory or a run id under `./runs` (setting `runs_dir`
changes that). The run store is `<run_dir>/run.duckdb` with `events(run_id, episode_id, seq,
kind, turn, payload JSON)`; each `model_called` event's payload holds the call's role, messages,
output, tool calls, usage and error. A request is matched on its context (episode, role, index:
the index-th call of that role in that episode); when its messages differ from the recorded ones
the replay has diverged and says where, rather than guessing. A recorded failure is replayed as
the same `ModelError`.

Setting `replay_episode` answers every request from that one stored episode (a fork under a new
episode id replays the original's calls up to the fork).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clinsim.agents.models.base import (
    ChatRequest,
    ChatResponse,
    ModelError,
    ModelSettings,
    ToolCall,
    Usage,
)
from clinsim.agents.models.registry import register_provider

DB_NAME = "run.duckdb"


class ReplayDiverged(ModelError):
    """The request is not the one recorded at this position (or there is none)."""


CallKey = tuple[str, str, int]


def resolve_run_dir(name: str, runs_dir: str | Path = "runs") -> Path:
    for candidate in (Path(name).expanduser(), Path(runs_dir) / name):
        if (candidate / DB_NAME).is_file():
            return candidate
    raise ModelError(
        f"replay: no stored run {name!r} (looked for {Path(name) / DB_NAME} and "
        f"{Path(runs_dir) / name / DB_NAME})"
    )


def load_calls(run_dir: Path) -> dict[CallKey, dict[str, Any]]:
    """Recorded model calls keyed by (episode id, role, index within that role)."""
    import duckdb

    database = run_dir / DB_NAME
    try:
        with duckdb.connect(str(database), read_only=True) as connection:
            run_ids = connection.execute("SELECT DISTINCT run_id FROM events").fetchall()
            query = "SELECT episode_id, payload FROM events WHERE kind = 'model_called'"
            parameters: list[str] = []
            if len(run_ids) > 1:  # one run per directory is the rule; prefer the directory's
                query += " AND run_id = ?"
                parameters.append(run_dir.name)
            rows = connection.execute(query + " ORDER BY episode_id, seq", parameters).fetchall()
    except duckdb.Error as error:
        raise ModelError(f"replay: cannot read {database}: {error}") from error
    calls: dict[CallKey, dict[str, Any]] = {}
    counters: dict[tuple[str, str], int] = {}
    for episode_id, payload in rows:
        call = json.loads(payload) if isinstance(payload, str) else payload
        role = str(call.get("role", ""))
        index = counters.get((episode_id, role), 0)
        counters[(episode_id, role)] = index + 1
        calls[(str(episode_id), role, index)] = call
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


def _tool_call(raw: dict[str, Any]) -> ToolCall:
    return ToolCall.model_validate(raw)


class ReplayModel:
    """Answers calls from the model_called events of one stored run."""

    def __init__(self, name: str, settings: ModelSettings):
        self.address = f"replay/{name}"
        self.run_dir = resolve_run_dir(name, getattr(settings, "runs_dir", "runs"))
        self.episode: str | None = getattr(settings, "replay_episode", None)
        self.calls = load_calls(self.run_dir)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        context = request.context
        episode = self.episode or context.episode_id
        where = f"episode {episode} role {context.role} call {context.index}"
        recorded = self.calls.get((episode, context.role, context.index))
        if recorded is None:
            raise ReplayDiverged(f"replay diverged at {where}: the stored run has no such call")
        now = [message.model_dump(mode="json") for message in request.messages]
        difference = _difference(list(recorded.get("messages") or []), now)
        if difference is not None:
            raise ReplayDiverged(f"replay diverged at {where}: {difference}")
        if recorded.get("error"):
            raise ModelError(str(recorded["error"]), list(recorded.get("retries") or []))
        usage = recorded.get("usage") or {}
        return ChatResponse(
            text=str(recorded.get("output") or ""),
            tool_calls=[_tool_call(raw) for raw in recorded.get("tool_calls") or []],
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            ),
            latency_s=float(recorded.get("latency_s") or 0.0),
            thinking=recorded.get("thinking"),
            finish_reason=recorded.get("finish_reason"),
            retries=list(recorded.get("retries") or []),
        )


@register_provider("replay")
def _make_replay(name: str, settings: ModelSettings) -> ReplayModel:
    return ReplayModel(name, settings)
