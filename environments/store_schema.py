"""The run store's tables, its format number, and bringing older stores up to date.

The `episodes` columns are derived from a pydantic model (`EpisodeRecord`): one column per field,
typed from its annotation, so a field added there is a column here, and an older store gains the
column (empty) when a run is resumed into it.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Any, get_args

import duckdb
from pydantic import BaseModel

from clinsim import __version__

STORE_FORMAT = 2
"""The format this clinsim writes; it reads every format up to this one."""

_SQL_TYPES = {str: "VARCHAR", int: "BIGINT", bool: "BOOLEAN", float: "DOUBLE"}
_RUNS_ADDED = {"store_format": "INTEGER", "skipped": "JSON"}
"""Columns of `runs` that format 1 did not have."""


class StoreError(Exception):
    """A run store that cannot be read or written; the message names the run directory."""


def _sql_type(annotation: Any) -> str:
    if isinstance(annotation, UnionType):  # `str | None`: the column allows NULL anyway
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return _SQL_TYPES[annotation]


def sql_columns(model: type[BaseModel]) -> dict[str, str]:
    """Column name -> SQL type, one per field of `model`; a field with a default gives its
    column that default, so the rows of an older store take it when the column is added."""
    return {
        name: _sql_type(info.annotation)
        + ("" if info.is_required() else f" DEFAULT {_sql_literal(info.default)}")
        for name, info in model.model_fields.items()
    }


def _sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if value is None:
        return "NULL"
    return repr(value)


def schema(episode_columns: dict[str, str]) -> str:
    typed = ", ".join(f"{name} {kind}" for name, kind in episode_columns.items())
    return f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created TIMESTAMP, config JSON, version VARCHAR,
    store_format INTEGER, skipped JSON);
CREATE TABLE IF NOT EXISTS episodes (run_id VARCHAR, {typed}, PRIMARY KEY (run_id, episode_id));
CREATE TABLE IF NOT EXISTS events (
    run_id VARCHAR, episode_id VARCHAR, seq INTEGER, kind VARCHAR, turn INTEGER, payload JSON);
CREATE TABLE IF NOT EXISTS pending_calls (
    run_id VARCHAR, episode_id VARCHAR, role VARCHAR, idx INTEGER, payload JSON);
"""


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {str(row[0]) for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [str(row[0]) for row in rows]


def format_of(con: duckdb.DuckDBPyConnection, where: Path) -> int:
    """The store's format; a format newer than this clinsim knows is refused."""
    if "store_format" not in columns(con, "runs"):
        return 1
    row = con.execute("SELECT max(store_format) FROM runs").fetchone()
    found = int(row[0]) if row and row[0] is not None else 1
    if found > STORE_FORMAT:
        raise StoreError(
            f"{where} was written by a newer clinsim (run store format {found}; this clinsim "
            f"{__version__} reads formats 1 to {STORE_FORMAT}): upgrade clinsim to read it"
        )
    return found


def migrate(con: duckdb.DuckDBPyConnection, where: Path, episode_columns: dict[str, str]) -> None:
    """Bring a store of an older format (or with fewer episode columns) up to this one, in
    place: missing tables and columns are added; what is stored is not rewritten (format 1's
    whole requests read as they are)."""
    format_of(con, where)
    con.execute(schema(episode_columns))
    present = set(columns(con, "runs"))
    for name, kind in _RUNS_ADDED.items():
        if name not in present:
            con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    present = set(columns(con, "episodes"))
    for name, kind in episode_columns.items():
        if name not in present:
            con.execute(f"ALTER TABLE episodes ADD COLUMN {name} {kind}")
    con.execute("UPDATE runs SET store_format = ?", [STORE_FORMAT])
