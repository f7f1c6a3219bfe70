"""Stored event rows made whole again: by episode, the journaled calls of unfinished episodes,
and the two tables `clinsim export` writes. The run store and its writer read through these."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from clinsim.environments.call_storage import CallRebuilder, call_index
from clinsim.environments.events import Event, ModelCalled
from clinsim.environments.store_schema import tables

ExportFormat = Literal["parquet", "jsonl", "csv"]
_COPY_FORMATS: dict[str, str] = {"parquet": "parquet", "jsonl": "json", "csv": "csv"}


def export_tables(
    reading: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    out_dir: Path,
    fmt: ExportFormat,
) -> list[Path]:
    """Write a store's `episodes` and `events` tables to `out_dir`, one file each; the store is
    held (`reading()`) only while it is read, not while the whole events are written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = f"(FORMAT {_COPY_FORMATS[fmt]})"
    episodes, events = out_dir / f"episodes.{fmt}", out_dir / f"events.{fmt}"
    with reading() as con:
        con.execute(
            f"COPY (SELECT * FROM episodes ORDER BY position) TO {_quoted(episodes)} {copy}"
        )
        rows = con.execute(
            "SELECT run_id, episode_id, seq, kind, turn, payload FROM events "
            "ORDER BY episode_id, seq"
        ).fetchall()
    with duckdb.connect() as out:
        out.register("whole_events", _whole_events(rows))
        out.execute(f"COPY whole_events TO {_quoted(events)} {copy}")
    return [episodes, events]


def read_pending(con: duckdb.DuckDBPyConnection) -> dict[str, list[ModelCalled]]:
    """`pending_calls` as events; a role's calls after a gap in its numbering are left out
    (they were stored against a call that is missing)."""
    if "pending_calls" not in tables(con):
        return {}
    rows = con.execute(
        "SELECT episode_id, idx, payload FROM pending_calls ORDER BY episode_id, role, idx"
    ).fetchall()
    found: dict[str, list[ModelCalled]] = {}
    rebuilders: dict[str, CallRebuilder] = {}
    last: dict[tuple[str, str], int] = {}
    for episode_id, idx, payload in rows:
        call = rebuilders.setdefault(episode_id, CallRebuilder()).call(payload)
        key = (episode_id, call.role)
        if last.get(key, -1) != idx - 1 or call_index(call) != idx:
            last[key] = -2
            continue
        last[key] = idx
        found.setdefault(episode_id, []).append(call)
    return found


def by_episode(rows: list[tuple[Any, ...]]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    rebuilders: dict[str, CallRebuilder] = {}
    for episode_id, kind, payload in rows:
        rebuild = rebuilders.setdefault(episode_id, CallRebuilder())
        found.setdefault(episode_id, []).append(rebuild.event(kind, payload))
    return found


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _whole_events(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Stored event rows with every payload rebuilt whole, as a table of the same columns."""
    rebuilders: dict[str, CallRebuilder] = {}
    payloads = [
        rebuilders.setdefault(episode_id, CallRebuilder()).event(kind, payload).model_dump_json()
        for _, episode_id, _, kind, _, payload in rows
    ]
    types = {"run_id": pa.string(), "episode_id": pa.string(), "seq": pa.int32()}
    types |= {"kind": pa.string(), "turn": pa.int32()}
    table = {
        name: pa.array([row[i] for row in rows], kind)
        for i, (name, kind) in enumerate(types.items())
    }
    return pa.table({**table, "payload": pa.array(payloads, pa.string())})
