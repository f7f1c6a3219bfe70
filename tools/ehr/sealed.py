"""The sealed per-patient, as-of-time view of an EHR database.

For one encounter, the permitted rows of one subject are copied out of the EHR file into a fresh
in-memory DuckDB with the same table names; the agent's SQL runs only there. So other patients'
rows and future rows are not merely filtered out of a view: they do not exist where the query
runs, however the SQL is written. What is copied (see `_VISIBLE`):

- only rows of the encounter's subject, charted (and, where a result time exists, resulted)
  strictly before the index time; outpatient (`omr`) rows dated before the index date;
- admissions that began at or before the index time, with discharge, death and outcome fields
  blanked unless that admission was discharged before the index time and is not the index one;
- diagnoses, DRG and procedure codes only of admissions discharged before the index time (never
  the index admission's);
- dictionary rows (`d_*`) only for the codes that the copied rows use.

The connection is then locked: no file or network access, no extensions, no spilling to disk,
a memory cap, configuration locked. Agent SQL must parse as exactly one SELECT and runs under
a wall-clock limit (interrupted when exceeded) and a row cap with a truncation flag.

The view lives in a sandbox worker process (`sandbox.py`, `sandbox_worker.py`) whose memory is
capped by the operating system (`QueryLimits.process_memory_mb`; DuckDB's `memory_limit` bounds
only its buffer manager, not a huge list or string value being built or returned), and which is
killed when a query has not answered `kill_grace_s` after its time limit. A worker that was
killed or died is replaced, and its views sealed again from the same rows, on their next call.
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinsim.environments.ehr.schema import TABLE_BY_NAME
from clinsim.tools.ehr.sandbox import WorkerDied, WorkerError, WorkerTimedOut, pool


class EHRQueryError(Exception):
    """A refused or failed query; the message is what the doctor sees."""


MAX_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class QueryLimits:
    timeout_s: float = 5.0
    max_rows: int = 200
    memory_limit: str = "256MB"
    max_result_bytes: int = 1_000_000
    """Refuse results larger than this (text size), whatever their row count."""
    process_memory_mb: int = 448
    """Private memory of the view's worker process (its whole heap: DuckDB and Python)."""
    kill_grace_s: float = 0.5
    """How long past `timeout_s` a query may take to stop before its worker is killed."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout_s) and 0 < self.timeout_s <= MAX_TIMEOUT_S):
            raise ValueError(
                f"timeout_s must be more than 0 and at most {MAX_TIMEOUT_S:g} s, "
                f"got {self.timeout_s}"
            )
        if self.max_rows < 1 or self.max_result_bytes < 1:
            raise ValueError("max_rows and max_result_bytes must be at least 1")
        if self.process_memory_mb < 128 or not 0 < self.kill_grace_s <= 60:
            raise ValueError("process_memory_mb must be at least 128, kill_grace_s 0 to 60 s")


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "truncated": self.truncated}


_CLOSED = (
    "(SELECT hadm_id FROM admissions WHERE subject_id = $sid AND dischtime < $t "
    "AND hadm_id IS DISTINCT FROM $h)"
)
_ADM_CLOSED = "(dischtime < $t AND hadm_id IS DISTINCT FROM $h)"

# Table -> SELECT on the source database returning exactly the rows (and values) the view holds.
_VISIBLE: dict[str, str] = {
    "patients": "SELECT * REPLACE (CASE WHEN dod < CAST($t AS DATE) THEN dod END AS dod) "
    "FROM patients WHERE subject_id = $sid",
    "admissions": "SELECT * REPLACE ("
    f"CASE WHEN {_ADM_CLOSED} THEN dischtime END AS dischtime, "
    f"CASE WHEN {_ADM_CLOSED} THEN deathtime END AS deathtime, "
    f"CASE WHEN {_ADM_CLOSED} THEN discharge_location END AS discharge_location, "
    f"CASE WHEN {_ADM_CLOSED} THEN hospital_expire_flag END AS hospital_expire_flag, "
    "CASE WHEN edouttime < $t THEN edouttime END AS edouttime) "
    "FROM admissions WHERE subject_id = $sid AND admittime <= $t ORDER BY admittime",
    "diagnoses_icd": "SELECT * FROM diagnoses_icd "
    f"WHERE subject_id = $sid AND hadm_id IN {_CLOSED}",
    "procedures_icd": "SELECT * FROM procedures_icd "
    f"WHERE subject_id = $sid AND hadm_id IN {_CLOSED} AND chartdate < CAST($t AS DATE)",
    "drgcodes": f"SELECT * FROM drgcodes WHERE subject_id = $sid AND hadm_id IN {_CLOSED}",
    "labevents": "SELECT * FROM labevents WHERE subject_id = $sid AND charttime < $t "
    "AND (storetime IS NULL OR storetime < $t)",
    "microbiologyevents": "SELECT * FROM microbiologyevents WHERE subject_id = $sid "
    "AND COALESCE(charttime, chartdate) < $t AND COALESCE(storetime, "
    "storedate + INTERVAL 1 DAY, charttime, chartdate + INTERVAL 1 DAY) <= $t",
    "prescriptions": "SELECT * REPLACE (CASE WHEN stoptime < $t THEN stoptime END AS stoptime) "
    "FROM prescriptions WHERE subject_id = $sid AND starttime < $t",
    "omr": "SELECT * FROM omr WHERE subject_id = $sid AND chartdate < CAST($t AS DATE)",
    "icustays": "SELECT * REPLACE (CASE WHEN outtime < $t THEN outtime END AS outtime, "
    "CASE WHEN outtime < $t THEN los END AS los, "
    "CASE WHEN outtime < $t THEN last_careunit END AS last_careunit) "
    "FROM icustays WHERE subject_id = $sid AND intime < $t",
    "chartevents": "SELECT * FROM chartevents WHERE subject_id = $sid AND charttime < $t "
    "AND (storetime IS NULL OR storetime < $t)",
}

# Dictionary -> (key columns, SELECT over the sealed tables listing the keys in use). The copies
# run with the source file attached as the default catalog: `memory.main` is the sealed view.
_DICTIONARIES: dict[str, tuple[str, str]] = {
    "d_labitems": ("itemid", "SELECT DISTINCT itemid FROM memory.main.labevents"),
    "d_items": ("itemid", "SELECT DISTINCT itemid FROM memory.main.chartevents"),
    "d_icd_diagnoses": (
        "icd_code, icd_version",
        "SELECT DISTINCT icd_code, icd_version FROM memory.main.diagnoses_icd",
    ),
    "d_icd_procedures": (
        "icd_code, icd_version",
        "SELECT DISTINCT icd_code, icd_version FROM memory.main.procedures_icd",
    ),
}

_LOCKDOWN = (
    "SET temp_directory = ''",
    "SET threads = 1",
    "SET python_enable_replacements = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET allow_persistent_secrets = false",
    "SET enable_external_access = false",
    "SET enable_progress_bar = false",
)

_ENCOUNTER = (
    "CREATE TABLE encounter AS SELECT $sid::BIGINT AS subject_id, $t::TIMESTAMP AS index_time"
)
_ADDRESS_HEADROOM_MB = 1536
"""Address space the worker may reserve beyond its memory cap (thread stacks, mappings)."""
_VIEW_IDS = itertools.count(1)


def _naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _seal_spec(
    db: Path,
    label: str,
    subject_id: int,
    moment: datetime,
    hadm_id: int | None,
    limits: QueryLimits,
) -> dict[str, Any]:
    """What the worker needs to build the view: every statement, in order."""
    names = [*_VISIBLE, *_DICTIONARIES]
    return {
        "db": str(db),
        "label": label,
        "subject_id": subject_id,
        "params": {"sid": subject_id, "t": moment, "h": hadm_id},
        "ddl": [TABLE_BY_NAME[name].ddl() for name in names],
        "visible": list(_VISIBLE.items()),
        "dictionaries": [(name, keys, used) for name, (keys, used) in _DICTIONARIES.items()],
        "after": [_ENCOUNTER],
        "lockdown": [
            *_LOCKDOWN,
            f"SET memory_limit = '{limits.memory_limit}'",
            "SET lock_configuration = true",
        ],
    }


def _shuffled(seed: float) -> list[str]:
    if not 0 <= seed <= 1:
        raise ValueError(f"row_order_seed must be from 0 to 1, got {seed}")
    tables = [*_VISIBLE, *_DICTIONARIES, "encounter"]
    shuffle = "CREATE OR REPLACE TABLE {0} AS SELECT * FROM {0} ORDER BY random()"
    return [f"SELECT setseed({seed!r})", *(shuffle.format(name) for name in tables)]


class SealedEHR:
    """One subject's permitted rows in a locked in-memory database, in a sandbox worker."""

    def __init__(
        self, spec: dict[str, Any], subject_id: int, index_time: datetime, limits: QueryLimits
    ):
        memory = limits.process_memory_mb
        self._spec = spec
        self._id = next(_VIEW_IDS)
        self._slot = pool(memory * 2**20, (memory + _ADDRESS_HEADROOM_MB) * 2**20).place()
        self._release = weakref.finalize(self, self._slot.release, self._id)
        self.subject_id = subject_id
        self.index_time = index_time
        self.limits = limits

    @classmethod
    def seal(
        cls,
        db_path: Path,
        subject_id: int,
        index_time: datetime,
        hadm_id: int | None = None,
        limits: QueryLimits | None = None,
        row_order_seed: float | None = None,
    ) -> SealedEHR:
        """Seal one subject's view. With `row_order_seed` (0 to 1) the copied rows are stored
        in a random order drawn from it: reads must not depend on physical row order."""
        limits = limits or QueryLimits()
        resolved = Path(db_path).resolve()
        if not resolved.is_file():
            raise EHRQueryError(f"EHR database not found: {db_path}")
        moment = _naive(index_time)
        spec = _seal_spec(resolved, str(db_path), subject_id, moment, hadm_id, limits)
        if row_order_seed is not None:
            spec["after"] += _shuffled(float(row_order_seed))
        view = cls(spec, subject_id, moment, limits)
        try:
            view._slot.seal(view._id, spec)
        except WorkerError as exc:
            view.close()
            raise EHRQueryError(str(exc)) from None
        except (WorkerTimedOut, WorkerDied) as exc:
            view.close()
            raise EHRQueryError(f"cannot seal the EHR view of {db_path}: {exc}") from None
        return view

    def query(self, sql: str, max_rows: int | None = None) -> QueryResult:
        """Run the agent's SQL: exactly one SELECT, time-limited, row-capped."""
        cap = self.limits.max_rows if max_rows is None else max(1, max_rows)
        columns, rows, truncated = self._ask(sql, None, cap, agent=True)
        return QueryResult(columns, rows, truncated)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a trusted, parameterised query (the canned tools); no row cap."""
        _, rows, _ = self._ask(sql, params, None, agent=False)
        return [tuple(row) for row in rows]

    @property
    def worker_pid(self) -> int | None:
        """The process holding the view now (None when it is to be sealed again)."""
        return self._slot.pid_of(self._id)

    def close(self) -> None:
        self._release()

    def _ask(
        self, sql: str, params: dict[str, Any] | None, cap: int | None, agent: bool
    ) -> tuple[list[str], list[list[Any]], bool]:
        if not self._release.alive:
            raise EHRQueryError("query failed: this EHR view is closed")
        limits = self.limits
        message = (
            "query",
            self._id,
            sql,
            params,
            cap,
            agent,
            limits.timeout_s,
            limits.max_result_bytes,
        )
        deadline = limits.timeout_s + limits.kill_grace_s
        try:
            columns, rows, truncated = self._slot.request(self._id, self._spec, message, deadline)
        except WorkerError as exc:
            raise EHRQueryError(str(exc)) from None
        except WorkerTimedOut:
            raise EHRQueryError(
                f"query stopped: it ran past the {limits.timeout_s:g} s time limit"
            ) from None
        except WorkerDied as exc:
            if exc.out_of_memory:
                raise EHRQueryError(
                    "query failed: it needs more memory than the EHR sandbox allows "
                    f"({limits.process_memory_mb} MB)"
                ) from None
            raise EHRQueryError(f"query failed: {exc}") from None
        return list(columns), rows, bool(truncated)
