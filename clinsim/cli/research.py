"""The research commands: compare runs, run and show experiments, write a report, export and
list runs. Each command's work lives in its own module, imported when the command runs, so the
CLI starts as fast with these commands as without them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from clinsim.cli.options import folder

Opt = typer.Option
Arg = typer.Argument
RunArgs = Annotated[list[str], Arg(help="Run directories or run ids under runs/.")]


def compare(
    runs: RunArgs,
    as_json: Annotated[bool, Opt("--json", help="The comparison as one JSON object.")] = False,
) -> None:
    """Compare runs episode by episode: paired accuracy difference, McNemar, discordant cases."""
    from clinsim.cli.comparing import compare_command

    compare_command(runs, as_json)


def report(
    sources: Annotated[
        list[str], Arg(help="Run directories, run ids under runs/, or experiment directories.")
    ],
    out: Annotated[Path, Opt(help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str | None, Opt(help="The report's title.")] = None,
) -> None:
    """Write one self-contained HTML report of runs or experiments (opens with no network)."""
    from clinsim.cli.reporting import report_command

    report_command(sources, out, title)


def export(
    run: Annotated[str, Arg(help="Run directory or run id under runs/.")],
    out: Annotated[Path, Opt(parser=folder, help="Folder to write episodes.* and events.* to.")],
    fmt: Annotated[
        Literal["parquet", "jsonl", "csv"], Opt("--format", help="parquet, jsonl or csv.")
    ] = "parquet",
) -> None:
    """Export a run's episodes and events as Parquet, JSON lines or CSV files."""
    from clinsim.cli.exporting import export_command

    export_command(run, out, fmt)


def runs(
    root: Annotated[Path, Opt(help="The folder the runs are in.")] = Path("runs"),
) -> None:
    """List the runs under runs/: when, sets, doctor, episodes, accuracy."""
    from clinsim.cli.exporting import runs_command

    runs_command(root)


experiment_app = typer.Typer(
    help="Experiments: a grid of runs from one TOML file.", no_args_is_help=True
)


@experiment_app.command("run")
def experiment_run(
    file: Annotated[Path, Arg(help="The experiment file (TOML).")],
    out: Annotated[
        Path | None, Opt(parser=folder, help="Experiment directory (default experiments/<file>).")
    ] = None,
    resume: Annotated[bool, Opt(help="Complete an interrupted experiment in --out.")] = False,
    executor: Annotated[
        str, Opt(help="Who plays the episodes: local, or ray[:ADDRESS] (a Ray cluster).")
    ] = "local",
    api_key: Annotated[
        str | None, Opt(envvar="CLINSIM_API_KEY", help="Server API key (never stored).")
    ] = None,
) -> None:
    """Run every cell of an experiment file, one after another."""
    from clinsim.cli.experiments import run_command

    run_command(file, out, resume, executor, api_key)


@experiment_app.command("show")
def experiment_show(
    directory: Annotated[Path, Arg(help="The experiment directory.")],
    as_json: Annotated[bool, Opt("--json", help="The figures as one JSON object.")] = False,
) -> None:
    """One row per cell with intervals, and the comparisons the experiment file asks for."""
    from clinsim.cli.experiments import show_command

    show_command(directory, as_json)


@experiment_app.command("query")
def experiment_query(
    directory: Annotated[Path, Arg(help="The experiment directory.")],
    sql: Annotated[str, Arg(help="One SQL query over the views cells, episodes and events.")],
    fmt: Annotated[
        Literal["table", "csv", "json"], Opt("--format", help="table, csv or json (lines).")
    ] = "table",
) -> None:
    """Query every cell at once with SQL (DuckDB): views cells, episodes and events."""
    from clinsim.cli.experiments import query_command

    query_command(directory, sql, fmt)
