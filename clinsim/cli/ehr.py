"""`clinsim ehr`: build the EHR database (MIMIC-IV import or synthetic) and query it sealed."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from clinsim.cli.errors import fail
from clinsim.cli.options import number
from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import EHRImportError, build_from_mimic
from clinsim.environments.ehr.synth import build_synthetic
from clinsim.tools.ehr.sealed import MAX_TIMEOUT_S, EHRQueryError, QueryLimits, SealedEHR

app = typer.Typer(
    help="The longitudinal EHR: build it from MIMIC-IV or synthesise one, query it sealed.",
    no_args_is_help=True,
)

Opt = typer.Option


@app.command()
def build(
    out: Annotated[Path, Opt(help="DuckDB file to write (replaced if it exists).")],
    mimic_dir: Annotated[
        Path | None,
        Opt(help="MIMIC-IV folder with hosp/ and icu/ (default: the bundled open demo)."),
    ] = None,
    meds: Annotated[
        Path | None,
        Opt(help="MEDS events parquet to take chart events from when icu/chartevents is absent."),
    ] = None,
) -> None:
    """Import MIMIC-IV's hosp and icu tables (CSV or CSV.gz) into a typed DuckDB file."""
    _check_out(out)
    source = mimic_dir or demo_dir()
    started = time.perf_counter()
    try:
        report = build_from_mimic(source, out, meds_parquet=meds)
    except EHRImportError as exc:
        fail(str(exc))
    typer.echo(report.summary())
    typer.echo(f"built in {time.perf_counter() - started:.1f} s")


@app.command()
def synth(
    out: Annotated[Path, Opt(help="DuckDB file to write (replaced if it exists).")],
    patients: Annotated[int, Opt(min=1, help="Number of patients.")] = 1000,
    seed: Annotated[int, Opt(help="Random seed: the same seed gives the same database.")] = 0,
) -> None:
    """Write a synthetic EHR with the MIMIC-IV schema (for scale work)."""
    _check_out(out)
    started = time.perf_counter()
    try:
        counts = build_synthetic(out, patients, seed)
    except (OSError, duckdb.Error) as exc:
        fail(f"{out}: cannot write the database: {exc}")
    for name, count in counts.items():
        typer.echo(f"  {name}: {count:,} rows")
    typer.echo(f"wrote {out} in {time.perf_counter() - started:.1f} s")


def _check_out(out: Path) -> None:
    if out.is_dir():
        fail(f"--out {out} is a folder; give the database file to write (e.g. {out}/ehr.duckdb)")
    if not out.parent.is_dir():
        fail(f"--out {out}: no such folder {out.parent}")


def _parse_as_of(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--as-of: not an ISO date or date-time: {text!r} (e.g. 2180-05-06 22:23)")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT statement.")],
    db: Annotated[Path, Opt(help="EHR DuckDB file.")],
    subject_id: Annotated[int, Opt(help="The patient (MIMIC subject_id).")],
    as_of: Annotated[str, Opt(help="Index time (ISO): only rows before it are visible.")],
    hadm_id: Annotated[
        int | None, Opt(help="Index admission: its diagnoses and discharge data stay hidden.")
    ] = None,
    max_rows: Annotated[int, Opt(min=1, help="Row cap.")] = 200,
    timeout: Annotated[
        float,
        Opt(
            parser=number(0, above=True, maximum=MAX_TIMEOUT_S, unit="seconds"),
            help="Statement time limit in seconds.",
        ),
    ] = 5.0,
) -> None:
    """Run SQL on one patient's sealed, as-of-time view; print the result as JSON.

    A refused or failed query prints {"error": ...} and exits with status 1."""
    moment = _parse_as_of(as_of)
    limits = QueryLimits(timeout_s=timeout, max_rows=max_rows)
    try:
        view = SealedEHR.seal(db, subject_id, moment, hadm_id, limits)
        try:
            result = view.query(sql)
        finally:
            view.close()
    except EHRQueryError as exc:
        typer.echo(json.dumps({"error": str(exc)}))
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result.to_json(), default=str))
