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
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from clinsim.environments.ehr.schema import TABLE_BY_NAME


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

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout_s) and 0 < self.timeout_s <= MAX_TIMEOUT_S):
            raise ValueError(
                f"timeout_s must be more than 0 and at most {MAX_TIMEOUT_S:g} s, "
                f"got {self.timeout_s}"
            )
        if self.max_rows < 1 or self.max_result_bytes < 1:
            raise ValueError("max_rows and max_result_bytes must be at least 1")


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

# Dictionary -> (key columns, SELECT over the sealed tables listing the keys in use).
_DICTIONARIES: dict[str, tuple[str, str]] = {
    "d_labitems": ("itemid", "SELECT DISTINCT itemid FROM labevents"),
    "d_items": ("itemid", "SELECT DISTINCT itemid FROM chartevents"),
    "d_icd_diagnoses": (
        "icd_code, icd_version",
        "SELECT DISTINCT icd_code, icd_version FROM diagnoses_icd",
    ),
    "d_icd_procedures": (
        "icd_code, icd_version",
        "SELECT DISTINCT icd_code, icd_version FROM procedures_icd",
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
)

_SOURCES: dict[str, duckdb.DuckDBPyConnection] = {}
_SOURCES_LOCK = threading.Lock()


def _source(db_path: Path) -> duckdb.DuckDBPyConnection:
    """A cursor on a shared read-only connection to the EHR file (one per file and process)."""
    resolved = Path(db_path).resolve()
    if not resolved.is_file():
        raise EHRQueryError(f"EHR database not found: {db_path}")
    key = f"{resolved}:{resolved.stat().st_mtime_ns}"
    with _SOURCES_LOCK:
        if key not in _SOURCES:
            try:
                _SOURCES[key] = duckdb.connect(str(resolved), read_only=True)
            except duckdb.Error as exc:
                raise EHRQueryError(f"cannot open EHR database {db_path}: {exc}") from exc
        return _SOURCES[key].cursor()


def _naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _present_tables(src: duckdb.DuckDBPyConnection) -> set[str]:
    rows = src.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
    return {str(name) for (name,) in rows.fetchall()}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def _arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    """A query's result as an Arrow table (`to_arrow_table` in DuckDB 2, `arrow` before)."""
    relation = con.sql(sql, params=params or None)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    return table


def _copy_rows(
    src: duckdb.DuckDBPyConnection,
    dst: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    params: dict[str, Any],
) -> None:
    used = {key: value for key, value in params.items() if f"${key}" in sql}
    rows = _arrow(src, sql, used)
    if rows.num_rows == 0:
        return
    dst.register("sealed_copy_rows", rows)
    try:
        dst.execute(f"INSERT INTO {name} BY NAME SELECT * FROM sealed_copy_rows")
    finally:
        dst.unregister("sealed_copy_rows")


def _copy_dictionary(
    src: duckdb.DuckDBPyConnection, dst: duckdb.DuckDBPyConnection, name: str
) -> None:
    keys, used_sql = _DICTIONARIES[name]
    used = _arrow(dst, used_sql)
    if used.num_rows == 0:
        return
    src.register("sealed_used_keys", used)
    try:
        sql = f"SELECT d.* FROM {name} d SEMI JOIN sealed_used_keys k USING ({keys})"
        _copy_rows(src, dst, name, sql, {})
    finally:
        src.unregister("sealed_used_keys")


class SealedEHR:
    """One subject's permitted rows in a locked in-memory database."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        subject_id: int,
        index_time: datetime,
        limits: QueryLimits,
    ):
        self._con = con
        self._lock = threading.Lock()
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
    ) -> SealedEHR:
        limits = limits or QueryLimits()
        moment = _naive(index_time)
        params: dict[str, Any] = {"sid": subject_id, "t": moment, "h": hadm_id}
        src = _source(db_path)
        con = duckdb.connect(":memory:")
        try:
            present = _present_tables(src)
            if not {"patients", "admissions"} <= present:
                raise EHRQueryError(f"{db_path} is not a clinsim EHR database (no patients table)")
            for name, sql in _VISIBLE.items():
                con.execute(TABLE_BY_NAME[name].ddl())
                if name in present:
                    _copy_rows(src, con, name, sql, params)
            for name in _DICTIONARIES:
                con.execute(TABLE_BY_NAME[name].ddl())
                if name in present:
                    _copy_dictionary(src, con, name)
            found = con.execute("SELECT count(*) FROM patients").fetchone()
            if not found or not found[0]:
                raise EHRQueryError(f"no patient with subject_id {subject_id} in {db_path}")
            con.execute(
                "CREATE TABLE encounter AS SELECT $sid::BIGINT AS subject_id, "
                "$t::TIMESTAMP AS index_time",
                {"sid": subject_id, "t": moment},
            )
            _lock_down(con, limits)
        except duckdb.Error as exc:
            con.close()
            raise EHRQueryError(
                f"{db_path}: not an EHR database of the schema clinsim builds: {_first_line(exc)}"
            ) from exc
        except BaseException:
            con.close()
            raise
        finally:
            src.close()
        return cls(con, subject_id, moment, limits)

    def query(self, sql: str, max_rows: int | None = None) -> QueryResult:
        """Run the agent's SQL: exactly one SELECT, time-limited, row-capped."""
        self._check_statement(sql)
        cap = self.limits.max_rows if max_rows is None else max(1, max_rows)
        with self._lock:
            return self._run(sql, None, cap)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a trusted, parameterised query (the canned tools); no row cap."""
        with self._lock:
            result = self._run(sql, params, None)
        return [tuple(row) for row in result.rows]

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _check_statement(self, sql: str) -> None:
        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            raise EHRQueryError(
                f"query refused: the SQL does not parse: {_first_line(exc)}"
            ) from exc
        if len(statements) != 1:
            raise EHRQueryError(
                f"query refused: exactly one SELECT statement is allowed, got {len(statements)}"
            )
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise EHRQueryError(f"query refused: only SELECT is allowed, got {kind.name}")

    def _fetch(self, cursor: duckdb.DuckDBPyConnection, cap: int | None) -> list[Any]:
        """Rows one at a time, within the time limit, until the cap or the size budget."""
        rows: list[Any] = []
        size = 0
        while cap is None or len(rows) <= cap:
            row = cursor.fetchone()
            if row is None:
                break
            size += sum(len(str(value)) for value in row)
            if size > self.limits.max_result_bytes:
                raise EHRQueryError(
                    f"query refused: the result is larger than "
                    f"{self.limits.max_result_bytes // 1000} kB; select fewer rows or columns"
                )
            rows.append(row)
        return rows

    def _run(self, sql: str, params: dict[str, Any] | None, cap: int | None) -> QueryResult:
        timer = threading.Timer(self.limits.timeout_s, self._con.interrupt)
        timer.start()
        try:
            cursor = self._con.execute(sql, params) if params else self._con.execute(sql)
            fetched = self._fetch(cursor, cap)
            columns = [str(d[0]) for d in cursor.description or []]
        except (OverflowError, ValueError, TypeError) as exc:  # a value Python cannot hold
            raise EHRQueryError(f"query failed: a value cannot be read: {exc}") from exc
        except duckdb.InterruptException as exc:
            raise EHRQueryError(
                f"query stopped: it ran past the {self.limits.timeout_s:g} s time limit"
            ) from exc
        except duckdb.PermissionException as exc:
            raise EHRQueryError(f"query refused: {_first_line(exc)}") from exc
        except duckdb.Error as exc:
            raise EHRQueryError(f"query failed: {_first_line(exc)}") from exc
        finally:
            timer.cancel()
        truncated = cap is not None and len(fetched) > cap
        rows = [[_json_value(v) for v in row] for row in fetched[: cap if truncated else None]]
        return QueryResult(columns, rows, truncated)


def _lock_down(con: duckdb.DuckDBPyConnection, limits: QueryLimits) -> None:
    for statement in _LOCKDOWN:
        con.execute(statement)
    con.execute(f"SET memory_limit = '{limits.memory_limit}'")
    con.execute("SET lock_configuration = true")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
