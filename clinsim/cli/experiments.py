"""`clinsim experiment run | show | query`."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from pathlib import Path
from typing import Literal

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clinsim.agents.models.base import ModelError
from clinsim.cli.errors import fail
from clinsim.environments.run_store import RunStore, StoreError
from clinsim.experiment.cells import short_key, value_text
from clinsim.experiment.execute import (
    Executor,
    Prepared,
    begin,
    cell_task,
    executor_for,
    load_experiment,
    prepare,
)
from clinsim.experiment.results import ExperimentFigures, experiment_figures
from clinsim.experiment.spec import ExperimentError
from clinsim.plugins import PluginError
from clinsim.prompting import PROMPT_NOTE
from clinsim.render_stats import SHORT_METHODS, bounds, comparison_tables, fmt, methods_caption
from clinsim.runner import Runner


def _check_roles(prepared: Prepared, executor: Executor) -> None:
    """Build every cell's roles once and ask every model server whether it answers, before the
    first episode (a bad address or a dead server stops the experiment with its cell)."""
    for cell, plan, scenarios in zip(
        prepared.experiment.cells, prepared.plans, prepared.scenarios, strict=True
    ):
        if not scenarios:
            continue
        store = RunStore(prepared.experiment.cell_dir(cell))  # nothing is written to it
        runner = Runner(plan, store, run_id="check", pool=executor.check_pool())
        try:
            runner.parts(scenarios[0], "check", 0)
            asyncio.run(_check_pool(runner))
        except (ValueError, OSError, ModelError, PluginError) as exc:
            fail(f"cell {cell.label}: {exc}")


async def _check_pool(runner: Runner) -> None:
    try:
        await runner.pool.check()
    finally:
        await runner.pool.aclose()


def run_command(
    file: Path, out: Path | None, resume: bool, executor_name: str, api_key: str | None
) -> None:
    console = Console()
    try:
        executor = executor_for(executor_name)
        prepared = prepare(file, out, resume, api_key)
        executor.open()
    except ExperimentError as exc:
        fail(str(exc))
    try:
        _check_roles(prepared, executor)
        begin(prepared, file)
        _run_cells(console, prepared, executor)
    except OSError as exc:
        fail(f"{prepared.experiment.directory}: {exc}")
    finally:
        executor.close()


def _run_cells(console: Console, prepared: Prepared, executor: Executor) -> None:
    experiment = prepared.experiment
    cells = len(experiment.cells)
    heading = f"Experiment {experiment.spec.name}: {cells} cells in {experiment.directory}"
    console.print(Text(heading), soft_wrap=True)
    try:
        for index in range(len(experiment.cells)):
            _run_cell(console, prepared, index, executor)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished episodes are stored (use --resume)[/]")
        raise typer.Exit(130) from None
    console.print(Text(f"Show it: clinsim experiment show {experiment.directory}"), soft_wrap=True)


def _run_cell(console: Console, prepared: Prepared, index: int, executor: Executor) -> None:
    experiment = prepared.experiment
    cell = experiment.cells[index]
    position = f"cell {index + 1}/{len(experiment.cells)} {cell.label}"
    try:
        task = cell_task(prepared, index)
    except (StoreError, OSError) as exc:
        fail(f"{position}: {exc}")
    if task is None:
        console.print(Text(f"{position}: complete"), soft_wrap=True)
        return
    expected = experiment.expected.get(cell.directory, 0)
    console.print(Text(f"{position}: {expected - len(task.skip)} episodes to play"), soft_wrap=True)
    counts = [0, 0]

    def done(record: object) -> None:
        counts[0] += 1
        counts[1] += bool(getattr(record, "correct", False))

    try:
        result = executor.run_cell(task, done)
    except ExperimentError as exc:
        fail(f"{position}: {exc}")
    for problem in result.write_errors:
        console.print(Text(f"not stored: {problem}", style="red"))
    if result.replayed:
        lost = (
            f"{position}: {result.replayed} episode attempts lost with their worker, played again"
        )
        console.print(Text(lost, style="yellow"), soft_wrap=True)
    console.print(Text(f"{position}: played {counts[0]}, correct {counts[1]}"), soft_wrap=True)


def show_command(directory: Path, as_json: bool) -> None:
    try:
        experiment = load_experiment(directory)
        figures = experiment_figures(experiment)
    except (ExperimentError, StoreError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(figures.model_dump_json())
        return
    print_figures(Console(), figures)


def cells_table(figures: ExperimentFigures) -> Table:
    """One row per cell: its grid values, episodes, accuracy with its interval, pass^K, means."""
    table = Table(
        title=f"Experiment {figures.name}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption_justify="left",
    )
    keys = list(figures.grid) or ["cell"]
    for key in keys:
        table.add_column(short_key(key), overflow="fold")
    for name in ("episodes", "accuracy", "95% interval, method"):
        table.add_column(name, justify="right", overflow="fold")
    most = max((c.summary.trials for c in figures.cells if c.summary), default=1)
    if most > 1:
        table.add_column(f"pass^{most}", justify="right", no_wrap=True)
    table.add_column("cost USD", justify="right", no_wrap=True)
    table.add_column("turns", justify="right", no_wrap=True)
    for c in figures.cells:
        values = [Text(value_text(c.settings[k])) for k in figures.grid] or [Text(c.cell)]
        expected = f"/{c.expected}" if c.expected is not None else ""
        s = c.summary
        if s is None:
            blank = ["-", "", *([""] * (most > 1)), "", ""]
            table.add_row(*values, f"{c.stored}{expected}", *blank)
            continue
        row = [
            f"{s.episodes}{expected}",
            fmt(s.accuracy.estimate, True),
            f"{bounds(s.accuracy, True)} {SHORT_METHODS[s.accuracy.method]}",
        ]
        if most > 1:
            k = next((r for r in s.pass_k if r.k == most), None)
            row.append(fmt(k.pass_hat.estimate, True) if k else "-")
        row += [fmt(s.cost.estimate, digits=1), fmt(s.turns.estimate, digits=1)]
        table.add_row(*values, *row)
    intervals = [c.summary.accuracy for c in figures.cells if c.summary]
    table.caption = methods_caption(intervals)
    return table


def print_figures(console: Console, figures: ExperimentFigures) -> None:
    console.print(cells_table(figures))
    for named in figures.comparisons:
        if named.comparison is None:
            console.print(Text(f"{named.title}: no comparison ({named.note})"))
            continue
        tables = comparison_tables(named.comparison, f"Compared: {named.title}", named.names)
        for pair, table in zip(named.comparison.pairs, tables, strict=True):
            console.print(table)
            for note in pair.notes:
                style = "yellow" if note.startswith(PROMPT_NOTE) else "dim"
                console.print(Text(f"note: {note}", style=style))
    if figures.frontier:
        frontier = Table(title="Accuracy against cost (budgets)", box=box.SIMPLE_HEAD)
        for name in ("cell", "mean cost (USD)", "accuracy", "on the frontier"):
            frontier.add_column(name, justify="left" if name == "cell" else "right")
        for point in figures.frontier:
            frontier.add_row(
                Text(point.run),
                fmt(point.cost, digits=1),
                fmt(point.accuracy, True),
                "yes" if point.on_frontier else "no",
            )
        console.print(frontier)


def query_command(directory: Path, sql: str, fmt_name: Literal["table", "csv", "json"]) -> None:
    from clinsim.experiment.query import run_query

    try:
        result = run_query(load_experiment(directory), sql)
    except ExperimentError as exc:
        fail(str(exc))
    if fmt_name == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif fmt_name == "json":
        for row in result.rows:
            record = dict(zip(result.columns, row, strict=True))
            typer.echo(json.dumps(record, default=str, ensure_ascii=False))
    else:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for name in result.columns:
            table.add_column(name, overflow="fold")
        for row in result.rows:
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        Console().print(table)
