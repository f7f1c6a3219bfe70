"""One SQL query across every cell of an experiment (DuckDB).

Each cell's `run.duckdb` is attached read-only, and three views span them:

    cells      cell, directory, one column per grid key (the cell's value)
    episodes   cell, the grid columns, then every column of the cells' `episodes` tables
    events     cell, then every column of the cells' `events` tables

A `model_called` event's `payload` holds the messages that are new since the same role's
previous call (`messages_prefix` says how many it shares with that call; see
`clinsim.environments.call_storage`); `clinsim export` writes every request whole.

Grid columns are named by the grid key (`doctor`, `max_turns`, `doctor_protocol` for
`agent_options.doctor.protocol`); one that a store column already uses gets a `cell_` prefix.
Once the cells are attached the connection can reach no other file: a query reads the
experiment and nothing else, and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
from pydantic import JsonValue

from clinsim.environments.run_store import EPISODE_FIELDS, RUN_STORE_FILE
from clinsim.experiment.cells import short_key, value_text
from clinsim.experiment.execute import Experiment
from clinsim.experiment.spec import ExperimentError

STORE_COLUMNS = {"run_id", *EPISODE_FIELDS, "seq", "kind", "turn", "payload", "cell"}


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def grid_columns(experiment: Experiment) -> dict[str, str]:
    """Grid key -> its column name in the views."""
    names = {}
    for key in experiment.spec.grid:
        name = re.sub(r"\W+", "_", short_key(key)).strip("_") or "setting"
        names[key] = f"cell_{name}" if name in STORE_COLUMNS else name
    return names


def _literal(value: JsonValue) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value_text(value).replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(experiment: Experiment) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the cells attached and the views made, then sealed."""
    con = duckdb.connect(":memory:")
    columns = grid_columns(experiment)
    cells, episodes, events = [], [], []
    for index, cell in enumerate(experiment.cells):
        values = ", ".join(
            f"{_literal(cell.settings[key])} AS {_quote(name)}" for key, name in columns.items()
        )
        prefix = f"{_literal(cell.label)} AS cell" + (f", {values}" if values else "")
        cells.append(f"SELECT {prefix}, {_literal(cell.directory)} AS directory")
        path = experiment.cell_dir(cell) / RUN_STORE_FILE
        if not path.is_file():
            continue  # not begun yet: its cell row stays, with no episodes
        alias = f"cell{index}"
        quoted = str(path.resolve()).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
        episodes.append(f"SELECT {prefix}, e.* FROM {alias}.episodes e")
        events.append(f"SELECT {_literal(cell.label)} AS cell, e.* FROM {alias}.events e")
    con.execute("CREATE VIEW cells AS " + " UNION ALL ".join(cells))
    empty = "SELECT NULL::VARCHAR AS cell WHERE FALSE"
    con.execute("CREATE VIEW episodes AS " + (" UNION ALL BY NAME ".join(episodes) or empty))
    con.execute("CREATE VIEW events AS " + (" UNION ALL BY NAME ".join(events) or empty))
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(experiment: Experiment, sql: str) -> QueryResult:
    """The query's columns and rows; a query DuckDB refuses is an `ExperimentError`."""
    con = connect(experiment)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return QueryResult([], [])
        return QueryResult([d[0] for d in cursor.description], cursor.fetchall())
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExperimentError(f"query failed: {first}") from None
    finally:
        con.close()
