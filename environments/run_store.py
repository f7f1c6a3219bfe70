"""The run store: the one reader and writer of stored runs (`<run_dir>/run.duckdb`).

Tables (store format 2; `runs.store_format`)
    runs(run_id, created, config JSON, version, store_format, skipped JSON)
    episodes(run_id, <one column per field of `EpisodeRecord`>)
    events(run_id, episode_id, seq, kind, turn, payload JSON)
    pending_calls(run_id, episode_id, role, idx, payload JSON)

Everything above this layer (the CLI, the runner, replay, rendering, the `replay` model backend)
reads and writes runs through `RunStore` and `StoreWriter` (`clinsim.environments.store_writer`)
and gets typed records and events back; nothing else knows the schema.

- A store is created whole: schema and run row are written to a temporary file that is then
  renamed to `run.duckdb`, so a store never exists half made. A file without a run row (left by
  an older clinsim killed while creating it) counts as no store at all.
- A finished episode is written in its own transaction (its row and its events), so an
  interrupted run keeps every episode it finished. `pending_calls` holds the model calls of
  episodes still being played, written as each call finishes; an episode's transaction removes
  them. `--resume` replays them, so a resumed episode makes no call it already paid for.
- Model calls are stored compactly: see `clinsim.environments.call_storage`.
- Readers open the store read-only per read and tell the writer they are waiting
  (`clinsim.environments.store_lock`); the writer keeps one connection for the whole run and
  lets them in between writes.

Formats: 1 is what clinsim wrote before `store_format` existed (every request stored whole, no
`pending_calls`); it is read as it is, and a run resumed into it is migrated in place
(`migrate`). A store of a newer format than `STORE_FORMAT` is refused with a message naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from clinsim import __version__
from clinsim.environments.call_storage import CallRebuilder
from clinsim.environments.events import (
    DiagnosisJudged,
    DiagnosisSubmitted,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ModelCalled,
    TestOrdered,
    ToolCalled,
)
from clinsim.environments.store_lock import RunLock, reading
from clinsim.environments.store_rows import (
    ExportFormat,
    by_episode,
    export_tables,
    read_pending,
)
from clinsim.environments.store_schema import (
    STORE_FORMAT,
    columns,
    format_of,
    schema,
    sql_columns,
    tables,
)
from clinsim.environments.store_schema import StoreError as StoreError
from clinsim.environments.store_schema import migrate as migrate_schema
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import Scenario

RUN_STORE_FILE = "run.duckdb"
LOCK_WAIT_S = 30.0


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


class SkippedRecord(BaseModel):
    """A scenario record the run left out because it could not be read."""

    file: str
    line: int | None = None
    field: str = ""
    message: str


class RunInfo(BaseModel):
    """The `runs` row: the run's id, when it was created, its configuration as stored, and the
    scenario records it left out (so the run's denominator is on record)."""

    run_id: str
    created: datetime
    config: dict[str, Any]
    version: str
    store_format: int = 1
    skipped: list[SkippedRecord] = Field(default_factory=list)


EPISODE_FIELDS = tuple(EpisodeRecord.model_fields)
EPISODE_TYPES = sql_columns(EpisodeRecord)
_SCHEMA = schema(EPISODE_TYPES)


def migrate(con: duckdb.DuckDBPyConnection, where: Path) -> None:
    """Bring a store of an older format up to this one, in place (see `store_schema`)."""
    migrate_schema(con, where, EPISODE_TYPES)


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


def connect(path: Path, read_only: bool, wait_s: float | None = None) -> duckdb.DuckDBPyConnection:
    """Connect, waiting up to `wait_s` (default LOCK_WAIT_S) while another connection holds
    the file."""
    deadline = time.monotonic() + (LOCK_WAIT_S if wait_s is None else wait_s)
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc)
            busy = "lock" in text.lower() or "different configuration" in text
            if not busy or time.monotonic() > deadline:
                problem = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
                raise StoreError(f"{path}: cannot open the run store: {problem}") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _remove_dead_temporaries(run_dir: Path) -> None:
    """Temporary stores left by a creation that was killed (their process is gone)."""
    for temp in run_dir.glob(f".{RUN_STORE_FILE}.*.tmp*"):
        pid = temp.name.split(".")[3] if temp.name.count(".") >= 4 else ""
        if pid.isdigit() and not _alive(int(pid)):
            _remove(temp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RUN_STORE_FILE

    def exists(self) -> bool:
        """The directory holds a run (a store with its run row)."""
        return self.has_run()

    def has_run(self) -> bool:
        if not self.path.is_file():
            return False
        if self.path.stat().st_size == 0:
            return False
        with self._reading() as con:
            if "runs" not in tables(con):
                return False
            row = con.execute("SELECT count(*) FROM runs").fetchone()
        return bool(row and row[0])

    def lock(self) -> RunLock:
        """The run directory's writer lock (`with store.lock(): ...`), see store_lock."""
        return RunLock(self.run_dir)

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.is_file():
            raise StoreError(f"{self.run_dir}: not a run directory (no {RUN_STORE_FILE})")
        with reading(self.run_dir):
            con = connect(self.path, read_only=True)
            try:
                if "runs" in tables(con):
                    format_of(con, self.run_dir)
                yield con
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from None
            finally:
                con.close()

    # ------------------------------------------------------------------ writing

    def create(
        self, run_id: str, config: dict[str, Any], skipped: list[SkippedRecord] | None = None
    ) -> None:
        """Create the store with its run row, whole or not at all (see the module's notes).
        A store file without a run row is replaced; one with a run is an error."""
        if self.has_run():
            raise StoreError(f"{self.run_dir} already holds a run")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _remove_dead_temporaries(self.run_dir)
        temp = self.run_dir / f".{RUN_STORE_FILE}.{os.getpid()}.tmp"
        row = [
            run_id,
            datetime.now(UTC).replace(tzinfo=None),
            json.dumps(config),
            __version__,
            STORE_FORMAT,
            json.dumps([s.model_dump(mode="json") for s in skipped or []]),
        ]
        try:
            with duckdb.connect(str(temp)) as con:
                con.execute(_SCHEMA)
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", row)
                con.execute("CHECKPOINT")
            _remove(_wal(self.path))  # left by an older clinsim's interrupted start, if any
            os.replace(temp, self.path)
        except duckdb.Error as exc:
            raise StoreError(f"{self.run_dir}: cannot create the run store: {exc}") from None
        finally:
            _remove(temp)
            _remove(_wal(temp))

    def write_episode(self, run_id: str, record: EpisodeRecord, events: list[Event]) -> None:
        """Write one finished episode now (a run writes through its `StoreWriter`)."""
        from clinsim.environments.store_writer import StoreWriter

        with StoreWriter(self, run_id) as writer:
            writer.episode_finished(record, events).result()

    def set_skipped(self, skipped: list[SkippedRecord]) -> None:
        """Replace the run's list of skipped scenario records (a resumed run reads them again)."""
        con = connect(self.path, read_only=False)
        try:
            migrate(con, self.run_dir)
            payload = json.dumps([s.model_dump(mode="json") for s in skipped])
            con.execute("UPDATE runs SET skipped = ?", [payload])
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        finally:
            con.close()

    # ------------------------------------------------------------------ reading

    def run_info(self) -> RunInfo:
        with self._reading() as con:
            present = columns(con, "runs")
            if not present:
                raise StoreError(f"{self.run_dir}: the run store holds no run")
            row = con.execute(f"SELECT {', '.join(present)} FROM runs").fetchone()
        if row is None:
            raise StoreError(f"{self.run_dir}: the run store holds no run")
        data = dict(zip(present, row, strict=True))
        return RunInfo(
            run_id=data["run_id"],
            created=data["created"],
            config=json.loads(data["config"]),
            version=data["version"],
            store_format=data.get("store_format") or 1,
            skipped=json.loads(data.get("skipped") or "[]"),
        )

    def episodes(self) -> list[EpisodeRecord]:
        with self._reading() as con:
            present = set(columns(con, "episodes"))
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
        with self._reading() as con:
            rows = con.execute(
                "SELECT kind, payload FROM events WHERE episode_id = ? ORDER BY seq", [episode_id]
            ).fetchall()
            if not rows:
                known = con.execute(
                    "SELECT count(*) FROM episodes WHERE episode_id = ?", [episode_id]
                ).fetchone()
                if not known or not known[0]:
                    raise StoreError(f"no episode {episode_id!r} in {self.run_dir}")
        rebuild = CallRebuilder()
        return [rebuild.event(kind, payload) for kind, payload in rows]

    def events_of(self, *kinds: type[BaseModel]) -> dict[str, list[Event]]:
        """Every episode's events of the given classes, in order (episode id -> events)."""
        names = [str(kind.model_fields["kind"].default) for kind in kinds]
        marks = ", ".join("?" for _ in names)
        with self._reading() as con:
            rows = con.execute(
                f"SELECT episode_id, kind, payload FROM events WHERE kind IN ({marks}) "
                "ORDER BY episode_id, seq",
                names,
            ).fetchall()
        return by_episode(rows)

    def all_events(self) -> dict[str, list[Event]]:
        """Every episode's events, in order (episode id -> events)."""
        with self._reading() as con:
            rows = con.execute(
                "SELECT episode_id, kind, payload FROM events ORDER BY episode_id, seq"
            ).fetchall()
        return by_episode(rows)

    def export(self, out_dir: Path, fmt: ExportFormat) -> list[Path]:
        """Write the `episodes` and `events` tables to `out_dir` (DuckDB COPY), one file each;
        each event's payload is written whole (model calls with their full requests)."""
        return export_tables(self._reading, out_dir, fmt)

    def model_calls(self) -> list[tuple[str, ModelCalled]]:
        """Every recorded model call as (episode id, event), in episode and event order."""
        with self._reading() as con:
            run_ids = con.execute("SELECT DISTINCT run_id FROM events").fetchall()
            query = "SELECT episode_id, kind, payload FROM events WHERE kind = 'model_called'"
            parameters: list[str] = []
            if len(run_ids) > 1:  # one run per directory is the rule; prefer the directory's
                query += " AND run_id = ?"
                parameters.append(self.run_dir.name)
            rows = con.execute(query + " ORDER BY episode_id, seq", parameters).fetchall()
        return [
            (episode, call)
            for episode, events in by_episode(rows).items()
            for call in events
            if isinstance(call, ModelCalled)
        ]

    def pending_calls(self) -> dict[str, list[ModelCalled]]:
        """The recorded model calls of every episode that has not finished (episode id -> calls,
        each role's in call order)."""
        with self._reading() as con:
            return read_pending(con)


def resolve_run_dir(run: str, runs_root: str | Path = "runs") -> Path:
    """A run directory, or a run id under the runs folder."""
    tried = [Path(run).expanduser(), Path(runs_root) / run]
    for candidate in tried:
        if (candidate / RUN_STORE_FILE).is_file():
            return candidate
    looked = " and ".join(str(path / RUN_STORE_FILE) for path in tried)
    raise StoreError(f"no run {run!r}: not a run directory, nor a run id (looked for {looked})")
