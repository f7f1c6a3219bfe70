"""The run store: the one reader and writer of stored runs (`<run_dir>/run.duckdb`).

Tables
    runs(run_id, created, config JSON, version)
    episodes(run_id, <one column per field of `EpisodeRecord`>)
    events(run_id, episode_id, seq, kind, turn, payload JSON)

Everything above this layer (the CLI, the runner, replay, rendering, the `replay` model backend)
reads and writes runs through `RunStore` and gets typed records and events back; nothing else
knows the schema. Each finished episode is written in its own transaction, so an interrupted run
keeps every episode it finished. The connection is opened per write and per read; DuckDB lets
one process hold the file at a time, so a reader (`clinsim show` during a run) and the writer
wait for each other, up to LOCK_WAIT_S, instead of failing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import UnionType
from typing import Any, Literal, get_args

import duckdb
from pydantic import BaseModel, ConfigDict

from clinsim import __version__
from clinsim.environments.events import (
    EVENT_ADAPTER,
    DiagnosisJudged,
    DiagnosisSubmitted,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ModelCalled,
    TestOrdered,
    ToolCalled,
)
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import Scenario

RUN_STORE_FILE = "run.duckdb"
LOCK_WAIT_S = 30.0
ExportFormat = Literal["parquet", "jsonl", "csv"]
_COPY_FORMATS: dict[str, str] = {"parquet": "parquet", "jsonl": "json", "csv": "csv"}


class StoreError(Exception):
    """A run store that cannot be read or written; the message names the run directory."""


class EpisodeRecord(BaseModel):
    """One row of the `episodes` table: an episode's summary, computed from its events."""

    model_config = ConfigDict(frozen=True)

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
    trial: int = 0
    """Which repeat of the scenario (0 = the first); a run with `trials = K` plays 0..K-1."""
    scenario_set: str = ""
    """The set (or file) the scenario came from; empty in stores written before it was kept."""


class RunInfo(BaseModel):
    """The `runs` row: the run's id, when it was created, and its configuration as stored."""

    run_id: str
    created: datetime
    config: dict[str, Any]
    version: str


_SQL_TYPES = {str: "VARCHAR", int: "BIGINT", bool: "BOOLEAN", float: "DOUBLE"}


def _sql_type(annotation: Any) -> str:
    if isinstance(annotation, UnionType):  # `str | None`: the column allows NULL anyway
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return _SQL_TYPES[annotation]


EPISODE_FIELDS = tuple(EpisodeRecord.model_fields)
_ADDED_COLUMNS = [
    f"ALTER TABLE episodes ADD COLUMN IF NOT EXISTS {name} {_sql_type(info.annotation)} "
    f"DEFAULT {info.default!r}"
    for name, info in EpisodeRecord.model_fields.items()
    if not info.is_required()
]
"""Columns newer than the first stores: added to an older store before it is written to."""
_EPISODE_COLUMNS = ", ".join(
    f"{name} {_sql_type(info.annotation)}" for name, info in EpisodeRecord.model_fields.items()
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created TIMESTAMP, config JSON, version VARCHAR);
CREATE TABLE IF NOT EXISTS episodes (
    run_id VARCHAR, {_EPISODE_COLUMNS}, PRIMARY KEY (run_id, episode_id));
CREATE TABLE IF NOT EXISTS events (
    run_id VARCHAR, episode_id VARCHAR, seq INTEGER, kind VARCHAR, turn INTEGER,
    payload JSON, PRIMARY KEY (run_id, episode_id, seq));
"""


def summarise(
    episode_id: str,
    position: int,
    scenario: Scenario,
    events: list[Event],
    wall_s: float,
    trial: int = 0,
) -> EpisodeRecord:
    """The episode's summary row; the first judge's verdict is the one counted as correct."""
    ended = next((e for e in reversed(events) if isinstance(e, EpisodeEnded)), None)
    submitted = next((e for e in events if isinstance(e, DiagnosisSubmitted)), None)
    verdict = next((e for e in events if isinstance(e, DiagnosisJudged)), None)
    started = next((e for e in events if isinstance(e, EpisodeStarted)), None)
    orders = [e for e in events if isinstance(e, TestOrdered)]
    return EpisodeRecord(
        episode_id=episode_id,
        position=position,
        scenario_id=scenario.id,
        reference=scenario.answer.diagnosis,
        termination=str(ended.reason) if ended else str(TerminationReason.INTERNAL_ERROR),
        detail=ended.detail if ended else "no end event",
        diagnosis=submitted.diagnosis if submitted else None,
        correct=bool(verdict.match) if verdict else False,
        judge=verdict.judge if verdict else "",
        verdict_reason=verdict.reason if verdict else "",
        turns=max((e.turn for e in events), default=0),
        tests=len(orders),
        tool_calls=sum(1 for e in events if isinstance(e, ToolCalled)),
        cost=sum(e.cost for e in orders),
        wall_s=wall_s,
        seed=started.seed if started else 0,
        trial=trial,
        scenario_set=scenario.provenance.source,
    )


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


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RUN_STORE_FILE
        self._upgraded = False

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.is_file():
            raise StoreError(f"{self.run_dir}: not a run directory (no {RUN_STORE_FILE})")
        con = _open(self.path, read_only)
        try:
            yield con
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        finally:
            con.close()

    # ------------------------------------------------------------------ writing

    def create(self, run_id: str, config: dict[str, Any]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(_SCHEMA)
            con.execute(";".join(_ADDED_COLUMNS))
            con.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
                [run_id, datetime.now(UTC).replace(tzinfo=None), json.dumps(config), __version__],
            )

    def write_episode(self, run_id: str, record: EpisodeRecord, events: list[Event]) -> None:
        rows = [
            (run_id, record.episode_id, e.seq, e.kind, e.turn, e.model_dump_json()) for e in events
        ]
        values = record.model_dump()
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            if not self._upgraded:  # a run begun by an older clinsim, now resumed
                con.execute(";".join(_ADDED_COLUMNS))
                self._upgraded = True
            for table in ("events", "episodes"):
                con.execute(
                    f"DELETE FROM {table} WHERE run_id = ? AND episode_id = ?",
                    [run_id, record.episode_id],
                )
            placeholders = ", ".join("?" * (len(EPISODE_FIELDS) + 1))
            con.execute(
                f"INSERT INTO episodes (run_id, {', '.join(EPISODE_FIELDS)}) "
                f"VALUES ({placeholders})",
                [run_id, *(values[name] for name in EPISODE_FIELDS)],
            )
            if rows:
                con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")

    # ------------------------------------------------------------------ reading

    def run_info(self) -> RunInfo:
        with self._connect(read_only=True) as con:
            row = con.execute("SELECT run_id, created, config, version FROM runs").fetchone()
        if row is None:
            raise StoreError(f"{self.run_dir}: the run store holds no run")
        return RunInfo(run_id=row[0], created=row[1], config=json.loads(row[2]), version=row[3])

    def episodes(self) -> list[EpisodeRecord]:
        """Every episode, in run order (a column an older store lacks takes its default)."""
        with self._connect(read_only=True) as con:
            present = {
                row[0]
                for row in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'episodes'"
                ).fetchall()
            }
            names = [name for name in EPISODE_FIELDS if name in present]
            rows = con.execute(
                f"SELECT {', '.join(names)} FROM episodes ORDER BY position"
            ).fetchall()
        return [EpisodeRecord(**dict(zip(names, row, strict=True))) for row in rows]

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

    def events_of(self, *kinds: type[BaseModel]) -> dict[str, list[Event]]:
        """Every episode's events of the given classes, in order (episode id -> events)."""
        names = [str(kind.model_fields["kind"].default) for kind in kinds]
        marks = ", ".join("?" for _ in names)
        with self._connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT episode_id, payload FROM events WHERE kind IN ({marks}) "
                "ORDER BY episode_id, seq",
                names,
            ).fetchall()
        found: dict[str, list[Event]] = {}
        for episode_id, payload in rows:
            found.setdefault(episode_id, []).append(EVENT_ADAPTER.validate_json(payload))
        return found

    def all_events(self) -> dict[str, list[Event]]:
        """Every episode's events, in order (episode id -> events)."""
        with self._connect(read_only=True) as con:
            rows = con.execute(
                "SELECT episode_id, payload FROM events ORDER BY episode_id, seq"
            ).fetchall()
        found: dict[str, list[Event]] = {}
        for episode_id, payload in rows:
            found.setdefault(episode_id, []).append(EVENT_ADAPTER.validate_json(payload))
        return found

    def export(self, out_dir: Path, fmt: ExportFormat) -> list[Path]:
        """Write the `episodes` and `events` tables to `out_dir` (DuckDB COPY), one file each."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        with self._connect(read_only=True) as con:
            for table in ("episodes", "events"):
                target = out_dir / f"{table}.{fmt}"
                quoted = str(target).replace("'", "''")
                con.execute(f"COPY {table} TO '{quoted}' (FORMAT {_COPY_FORMATS[fmt]})")
                written.append(target)
        return written

    def model_calls(self) -> list[tuple[str, ModelCalled]]:
        """Every recorded model call as (episode id, event), in episode and event order."""
        with self._connect(read_only=True) as con:
            run_ids = con.execute("SELECT DISTINCT run_id FROM events").fetchall()
            query = "SELECT episode_id, payload FROM events WHERE kind = 'model_called'"
            parameters: list[str] = []
            if len(run_ids) > 1:  # one run per directory is the rule; prefer the directory's
                query += " AND run_id = ?"
                parameters.append(self.run_dir.name)
            rows = con.execute(query + " ORDER BY episode_id, seq", parameters).fetchall()
        return [
            (str(episode), ModelCalled.model_validate_json(payload)) for episode, payload in rows
        ]


def resolve_run_dir(run: str, runs_root: str | Path = "runs") -> Path:
    """A run directory, or a run id under the runs folder."""
    tried = [Path(run).expanduser(), Path(runs_root) / run]
    for candidate in tried:
        if (candidate / RUN_STORE_FILE).is_file():
            return candidate
    looked = " and ".join(str(path / RUN_STORE_FILE) for path in tried)
    raise StoreError(f"no run {run!r}: not a run directory, nor a run id (looked for {looked})")
