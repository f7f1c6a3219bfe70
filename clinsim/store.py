"""The run store: one DuckDB database per run directory (`<run_dir>/run.duckdb`).

Tables
    runs(run_id, created, config JSON, version)
    episodes(run_id, episode_id, position, scenario_id, reference, termination, detail,
             diagnosis, correct, judge, verdict_reason, turns, tests, tool_calls, cost, wall_s,
             seed)
    events(run_id, episode_id, seq, kind, turn, payload JSON)

Each finished episode is written in its own transaction, so an interrupted run keeps every
episode it finished. The connection is opened per write and per read; DuckDB lets one process
hold the file at a time, so a reader (`clinsim show` during a run) and the writer wait for each
other, up to LOCK_WAIT_S, instead of failing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from clinsim import __version__
from clinsim.environments.events import EVENT_ADAPTER, Event

DB_NAME = "run.duckdb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created TIMESTAMP, config JSON, version VARCHAR);
CREATE TABLE IF NOT EXISTS episodes (
    run_id VARCHAR, episode_id VARCHAR, position INTEGER, scenario_id VARCHAR,
    reference VARCHAR, termination VARCHAR, detail VARCHAR, diagnosis VARCHAR,
    correct BOOLEAN, judge VARCHAR, verdict_reason VARCHAR, turns INTEGER, tests INTEGER,
    tool_calls INTEGER, cost DOUBLE, wall_s DOUBLE, seed BIGINT,
    PRIMARY KEY (run_id, episode_id));
CREATE TABLE IF NOT EXISTS events (
    run_id VARCHAR, episode_id VARCHAR, seq INTEGER, kind VARCHAR, turn INTEGER,
    payload JSON, PRIMARY KEY (run_id, episode_id, seq));
"""

EPISODE_COLUMNS = (
    "episode_id",
    "position",
    "scenario_id",
    "reference",
    "termination",
    "detail",
    "diagnosis",
    "correct",
    "judge",
    "verdict_reason",
    "turns",
    "tests",
    "tool_calls",
    "cost",
    "wall_s",
    "seed",
)


LOCK_WAIT_S = 30.0


class StoreError(Exception):
    pass


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Connect, waiting while another process holds the file (a reader during a run)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise StoreError(f"{path}: cannot open the run store: {exc}") from None
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open the run store: {exc}") from None
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


@dataclass
class EpisodeRecord:
    episode_id: str
    position: int
    scenario_id: str
    reference: str
    termination: str
    detail: str
    diagnosis: str | None
    correct: bool
    judge: str
    verdict_reason: str
    turns: int
    tests: int
    tool_calls: int
    cost: float
    wall_s: float
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EPISODE_COLUMNS}


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME

    @contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.is_file():
            raise StoreError(f"{self.run_dir}: not a run directory (no {DB_NAME})")
        con = _open(self.path, read_only)
        try:
            yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ writing

    def create(self, run_id: str, config: dict[str, Any]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(_SCHEMA)
            con.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
                [run_id, datetime.now(UTC).replace(tzinfo=None), json.dumps(config), __version__],
            )

    def write_episode(self, run_id: str, record: EpisodeRecord, events: list[Event]) -> None:
        rows = [
            (run_id, record.episode_id, e.seq, e.kind, e.turn, e.model_dump_json()) for e in events
        ]
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "DELETE FROM events WHERE run_id = ? AND episode_id = ?",
                [run_id, record.episode_id],
            )
            con.execute(
                "DELETE FROM episodes WHERE run_id = ? AND episode_id = ?",
                [run_id, record.episode_id],
            )
            placeholders = ", ".join("?" * (len(EPISODE_COLUMNS) + 1))
            con.execute(
                f"INSERT INTO episodes (run_id, {', '.join(EPISODE_COLUMNS)}) "
                f"VALUES ({placeholders})",
                [run_id, *record.as_dict().values()],
            )
            if rows:
                con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")

    # ------------------------------------------------------------------ reading

    def run_info(self) -> dict[str, Any]:
        with self._connect(read_only=True) as con:
            row = con.execute("SELECT run_id, created, config, version FROM runs").fetchone()
        if row is None:
            raise StoreError(f"{self.run_dir}: the run store holds no run")
        return {
            "run_id": row[0],
            "created": row[1],
            "config": json.loads(row[2]),
            "version": row[3],
        }

    def episodes(self) -> list[EpisodeRecord]:
        with self._connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes ORDER BY position"
            ).fetchall()
        return [EpisodeRecord(*row) for row in rows]

    def finished_ids(self) -> set[str]:
        if not self.path.is_file():
            return set()
        return {e.episode_id for e in self.episodes()}

    def events(self, episode_id: str) -> list[Event]:
        with self._connect(read_only=True) as con:
            rows = con.execute(
                "SELECT payload FROM events WHERE episode_id = ? ORDER BY seq", [episode_id]
            ).fetchall()
            if not rows:
                known = con.execute(
                    "SELECT count(*) FROM episodes WHERE episode_id = ?", [episode_id]
                ).fetchone()
                if not known or not known[0]:
                    raise StoreError(f"no episode {episode_id!r} in {self.run_dir}")
        return [EVENT_ADAPTER.validate_json(row[0]) for row in rows]

    def events_of_kinds(self, kinds: list[str]) -> dict[str, list[Event]]:
        """Every episode's events of the given kinds, in order (episode id -> events)."""
        marks = ", ".join("?" for _ in kinds)
        with self._connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT episode_id, payload FROM events WHERE kind IN ({marks}) "
                "ORDER BY episode_id, seq",
                kinds,
            ).fetchall()
        found: dict[str, list[Event]] = {}
        for episode_id, payload in rows:
            found.setdefault(episode_id, []).append(EVENT_ADAPTER.validate_json(payload))
        return found


def resolve_run_dir(run: str, runs_root: str | Path = "runs") -> Path:
    """A run directory, or a run id under the default runs folder."""
    for candidate in (Path(run), Path(runs_root) / run):
        if (candidate / DB_NAME).is_file():
            return candidate
    raise StoreError(f"no run {run!r}: not a run directory, nor a run id under {runs_root}/")
