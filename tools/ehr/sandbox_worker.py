"""The process sealed EHR views live in: in-memory DuckDB databases, queried over a pipe.

`clinsim.tools.ehr.sealed` starts it as `python -I sandbox_worker.py DATA_BYTES ADDRESS_BYTES`.
It imports only the standard library and duckdb (never a clinsim module) and limits itself
before it reads anything: private memory to DATA_BYTES and address space to ADDRESS_BYTES
(an allocation past them fails inside DuckDB or Python and becomes an error reply), no file
writes, no core dumps. The parent kills it when a query outruns its time limit.

Each view is a database of its own (one `duckdb.connect(":memory:")`, one patient), so no
statement of one view can reach another's rows. Messages both ways are pickles behind an 8-byte
length. Requests: `("seal", view, spec)` builds a view (attach the EHR file read-only, copy the
permitted rows, detach, lock down), `("query", view, sql, params, cap, agent, timeout_s,
max_bytes)` runs one statement on it, `("drop", [views])` closes views. Replies: `("ok",
payload, retire)` or `("error", message, retire)`, the message being what the doctor may see;
with `retire` (after running out of memory) the worker ends once the reply is written.
"""

from __future__ import annotations

import ctypes
import math
import os
import pickle
import resource
import struct
import sys
import threading
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from typing import Any, BinaryIO

import duckdb

_HEADER = struct.Struct(">Q")
_SOURCE = "ehr_source"
_VIEW = "memory.main"


class Refused(Exception):
    """A request answered with an error message."""


class Exhausted(Refused):
    """Out of memory: answered, then the worker ends (memory DuckDB or the allocator kept
    after it would otherwise be missing for the next request, of this view or another)."""


def _small_thread_stacks(size: int = 2 * 2**20) -> None:
    """Make threads started from now on (DuckDB starts several per database) reserve `size`
    bytes of stack instead of the process's 8 MB default, which would count against the memory
    limit for every view held. The main thread, where statements run, keeps its own stack."""
    try:
        libc = ctypes.CDLL(None)
        attr = ctypes.create_string_buffer(128)  # pthread_attr_t is 56 bytes on x86-64 glibc
        if libc.pthread_attr_init(attr) == 0:
            libc.pthread_attr_setstacksize(attr, ctypes.c_size_t(size))
            libc.pthread_setattr_default_np(attr)
            libc.pthread_attr_destroy(attr)
    except (OSError, AttributeError):
        pass  # not glibc: threads keep the default stack; fewer views fit under the limit


def _limit(data_bytes: int, address_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (data_bytes, data_bytes))
    resource.setrlimit(resource.RLIMIT_AS, (address_bytes, address_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _seal(spec: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Copy the permitted rows of one subject into a fresh in-memory database and lock it."""
    con = duckdb.connect(":memory:", config={"threads": 1})
    try:
        for ddl in spec["ddl"]:
            con.execute(ddl)
        path = str(spec["db"]).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS {_SOURCE} (READ_ONLY)")
        present = {
            str(name)
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                "AND schema_name = 'main'",
                [_SOURCE],
            ).fetchall()
        }
        if not {"patients", "admissions"} <= present:
            raise Refused(f"{spec['label']} is not a clinsim EHR database (no patients table)")
        con.execute(f"USE {_SOURCE}")
        params: dict[str, Any] = spec["params"]
        for name, sql in spec["visible"]:
            if name in present:
                used = {key: value for key, value in params.items() if f"${key}" in sql}
                con.execute(f"INSERT INTO {_VIEW}.{name} BY NAME {sql}", used or None)
        for name, keys, used_sql in spec["dictionaries"]:
            if name in present:
                con.execute(
                    f"INSERT INTO {_VIEW}.{name} BY NAME SELECT d.* FROM {name} d "
                    f"SEMI JOIN ({used_sql}) k USING ({keys})"
                )
        con.execute("USE memory")
        con.execute(f"DETACH {_SOURCE}")
        found = con.execute("SELECT count(*) FROM patients").fetchone()
        if not found or not found[0]:
            raise Refused(f"no patient with subject_id {spec['subject_id']} in {spec['label']}")
        for statement in spec["after"]:
            used = {key: value for key, value in params.items() if f"${key}" in statement}
            con.execute(statement, used or None)
        for statement in spec["lockdown"]:
            con.execute(statement)
    except duckdb.OutOfMemoryException as exc:
        con.close()
        raise Exhausted(f"cannot seal the EHR view: {_first_line(exc)}") from None
    except duckdb.Error as exc:
        con.close()
        raise Refused(
            f"{spec['label']}: not an EHR database of the schema clinsim builds: {_first_line(exc)}"
        ) from None
    except BaseException:
        con.close()
        raise
    return con


def _check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"query refused: the SQL does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise Refused(
            f"query refused: exactly one SELECT statement is allowed, got {len(statements)}"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise Refused(f"query refused: only SELECT is allowed, got {kind.name}")


def _text_size(row: tuple[Any, ...], budget: int) -> int:
    """The text size of a row's values, counted only until it passes `budget`."""
    size = 0
    stack: list[Any] = list(row)
    while stack and size <= budget:
        value = stack.pop()
        if isinstance(value, str | bytes):
            size += len(value)
        elif isinstance(value, list | tuple):
            size += 2
            stack.extend(value)
        elif isinstance(value, dict):
            size += 2
            stack.extend(value.keys())
            stack.extend(value.values())
        else:
            size += len(str(value))
    return size


def _fetch(cursor: duckdb.DuckDBPyConnection, cap: int | None, max_bytes: int) -> list[Any]:
    rows: list[Any] = []
    size = 0
    while cap is None or len(rows) <= cap:
        row = cursor.fetchone()
        if row is None:
            break
        size += _text_size(row, max_bytes - size)
        if size > max_bytes:
            raise Refused(
                f"query refused: the result is larger than {max_bytes // 1000} kB; "
                "select fewer rows or columns"
            )
        rows.append(row)
    return rows


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


def _plain(value: Any) -> Any:
    """A value of a trusted query, as types the parent accepts (others become text)."""
    if value is None or isinstance(value, bool | int | float | str | bytes | Decimal):
        return value
    if isinstance(value, datetime | date | timedelta):
        return value
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class _Watchdog:
    """One thread, started with the worker, that interrupts a statement past its time limit
    (a thread per statement could not even be started once memory is short)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target: duckdb.DuckDBPyConnection | None = None
        self._deadline = 0.0
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def arm(self, con: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        with self._cond:
            self._target, self._deadline = con, monotonic() + timeout_s
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._target = None
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._target is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._target.interrupt()
                self._target = None


_WATCHDOG: _Watchdog | None = None


def _query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any] | None,
    cap: int | None,
    agent: bool,
    timeout_s: float,
    max_bytes: int,
) -> tuple[list[str], list[Any], bool]:
    if agent:
        _check_statement(con, sql)
    assert _WATCHDOG is not None
    _WATCHDOG.arm(con, timeout_s)
    try:
        cursor = con.execute(sql, params) if params else con.execute(sql)
        fetched = _fetch(cursor, cap, max_bytes)
        columns = [str(d[0]) for d in cursor.description or []]
    except (OverflowError, ValueError, TypeError) as exc:  # a value Python cannot hold
        raise Refused(f"query failed: a value cannot be read: {exc}") from None
    except duckdb.InterruptException:
        raise Refused(f"query stopped: it ran past the {timeout_s:g} s time limit") from None
    except duckdb.PermissionException as exc:
        raise Refused(f"query refused: {_first_line(exc)}") from None
    except duckdb.OutOfMemoryException as exc:
        raise Exhausted(f"query failed: {_first_line(exc)}") from None
    except duckdb.Error as exc:
        raise Refused(f"query failed: {_first_line(exc)}") from None
    finally:
        _WATCHDOG.disarm()
    truncated = cap is not None and len(fetched) > cap
    kept = fetched[: cap if truncated else None]
    convert = _json_value if agent else _plain
    return columns, [[convert(v) for v in row] for row in kept], truncated


def _answer(
    views: dict[int, duckdb.DuckDBPyConnection], request: tuple[Any, ...]
) -> tuple[Any, ...]:
    kind, view = request[0], request[1]
    try:
        if kind == "seal":
            views[view] = _seal(request[2])
            return ("ok", None, False)
        if kind == "drop":
            for dropped in view:
                con = views.pop(dropped, None)
                if con is not None:
                    con.close()
            return ("ok", None, False)
        if kind == "query" and view in views:
            return ("ok", _query(views[view], *request[2:]), False)
        return ("error", f"query failed: no sealed view {view} here", False)
    except Refused as exc:
        return ("error", str(exc), isinstance(exc, Exhausted))
    except MemoryError:
        message = "query failed: it needs more memory than the EHR sandbox allows"
        return ("error", message, True)
    except RecursionError:
        return ("error", "query failed: a value is nested too deeply to read", False)
    except Exception as exc:  # whatever else: an answer, never a dead worker
        return ("error", f"query failed: {type(exc).__name__}: {_first_line(exc)}", False)


def _read(stream: BinaryIO) -> tuple[Any, ...] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    request: tuple[Any, ...] = pickle.loads(stream.read(length))  # from the parent only
    return request


def _write(stream: BinaryIO, reply: tuple[Any, ...]) -> bool:
    """Write a reply; True when the worker is to end after it."""
    try:
        payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        reply = ("error", "query failed: the result does not fit in memory", True)
        payload = pickle.dumps(reply)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()
    return bool(reply[2])


def main() -> None:
    global _WATCHDOG
    _small_thread_stacks()
    _limit(int(sys.argv[1]), int(sys.argv[2]))
    _WATCHDOG = _Watchdog()
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")  # nothing but replies on the pipe: what DuckDB or
    os.dup2(2, 1)  # Python would print to standard output (a progress bar) goes to stderr
    sys.stdout = sys.stderr
    views: dict[int, duckdb.DuckDBPyConnection] = {}
    while (request := _read(requests)) is not None:
        if _write(replies, _answer(views, request)):
            break  # retire: the parent starts a fresh worker for the next request


if __name__ == "__main__":
    main()
