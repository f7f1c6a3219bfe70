"""`clinsim compare RUN_A RUN_B [RUN ...]`: runs paired episode by episode."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from clinsim.cli.errors import fail
from clinsim.environments.run_store import StoreError, resolve_run_dir
from clinsim.prompting import PROMPT_NOTE, note_prompt_differences, prompt_changes
from clinsim.render_stats import comparison_tables, discordant_table
from clinsim.results import RunResults, load_runs
from clinsim.stats import Comparison, OutcomeError, compare_runs


def load_compared(runs: list[str]) -> list[RunResults]:
    if len(runs) < 2:
        fail("compare needs two or more runs")
    try:
        return load_runs([resolve_run_dir(run) for run in runs])
    except StoreError as exc:
        fail(str(exc))


def compare_command(runs: list[str], as_json: bool) -> None:
    loaded = load_compared(runs)
    outcomes = [o for r in loaded for o in r.outcomes]
    try:
        comparison = compare_runs(outcomes, [r.label for r in loaded])
    except OutcomeError as exc:
        fail(f"cannot compare: {exc}")
    configs = {r.label: r.stored for r in loaded}
    comparison = note_prompt_differences(comparison, configs)
    if as_json:
        dirs = {r.label: str(r.run_dir) for r in loaded}
        payload = {"run_dirs": dirs, **comparison.model_dump(mode="json")}
        for pair in payload["pairs"]:
            changes = prompt_changes(configs[pair["run_a"]], configs[pair["run_b"]])
            pair["prompt_differences"] = [change.as_json() for change in changes]
        typer.echo(json.dumps(payload))
        return
    print_comparison(Console(), comparison, {r.label: r.run_dir for r in loaded})


def print_comparison(console: Console, comparison: Comparison, dirs: dict[str, Path]) -> None:
    for label, directory in dirs.items():
        if str(directory) != label:
            console.print(Text(f"{label}: {directory}", style="dim"))
    for pair, table in zip(comparison.pairs, comparison_tables(comparison), strict=True):
        console.print(table)
        for note in pair.notes:
            style = "yellow" if note.startswith(PROMPT_NOTE) else "dim"
            console.print(Text(f"note: {note}", style=style))
        if pair.a_right_b_wrong or pair.b_right_a_wrong:
            console.print(discordant_table(pair))
