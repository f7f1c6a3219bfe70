"""`clinsim scenarios`: list, show, validate, audit and describe scenario sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinsim.cli.errors import fail
from clinsim.scenarios.errors import UnknownScenarioSet
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import bundled_sets, find_scenario, load_report

app = typer.Typer(help="Scenario sets: list, show, validate, audit, schema.", no_args_is_help=True)


@app.command("list")
def list_sets() -> None:
    """List the bundled scenario sets."""
    table = Table(title="Bundled scenario sets")
    for column in ("name", "scenarios", "licence", "description"):
        table.add_column(column, overflow="fold")
    for s in bundled_sets():
        report = load_report(s.name)
        table.add_row(s.name, str(len(report.scenarios)), s.license, s.description)
    Console().print(table)


@app.command()
def show(
    scenario_id: Annotated[str, typer.Argument(help="e.g. agentclinic-medqa/0001")],
    reveal: Annotated[bool, typer.Option(help="Also print the sealed answer key.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one bundled scenario (the answer key stays hidden unless --reveal)."""
    try:
        scenario = find_scenario(scenario_id)
    except UnknownScenarioSet as exc:
        fail(str(exc))
    data = scenario.model_dump(mode="json", exclude=None if reveal else {"answer"})
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    Console().print_json(data=data, ensure_ascii=False)


@app.command()
def validate(
    paths: Annotated[list[str], typer.Argument(help="Scenario files or set names.")],
    image_dir: Annotated[
        Path | None, typer.Option(help="Also check every image resolves in this folder/map.")
    ] = None,
) -> None:
    """Check scenario files; print every bad record (file:line: field: message)."""
    bad = 0
    for path in paths:
        try:
            report = load_report(path, image_dir)
        except UnknownScenarioSet as exc:
            fail(str(exc))
        for error in report.errors:
            typer.echo(str(error), err=True)
        bad += len(report.errors)
        invalid = len({error.line for error in report.errors})
        status = "ok" if report.ok else _count(invalid, "invalid record")
        typer.echo(f"{path}: {_count(len(report.scenarios), 'valid scenario')}, {status}")
    if bad:
        raise typer.Exit(1)


@app.command()
def audit(paths: Annotated[list[str], typer.Argument(help="Scenario files or set names.")]) -> None:
    """Flag scenarios that leak their diagnosis or do not ask for one."""
    from clinsim.scenarios.audit import audit_scenario

    flagged_total = 0
    for path in paths:
        try:
            report = load_report(path)
        except UnknownScenarioSet as exc:
            fail(str(exc))
        flagged = 0
        for scenario in report.scenarios:
            findings = audit_scenario(scenario)
            flagged += bool(findings)
            for finding in findings:
                typer.echo(str(finding))
        flagged_total += flagged
        typer.echo(f"{path}: {flagged} of {_count(len(report.scenarios), 'scenario')} flagged")


def _count(n: int, noun: str) -> str:
    """'1 valid scenario', '3 valid scenarios'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@app.command()
def schema() -> None:
    """Print the JSON Schema of clinsim's scenario format."""
    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


def _mount_build_mimic() -> None:
    try:
        from clinsim.cli.ehr_scenarios import build_mimic_command
    except ImportError:
        return
    app.command("build-mimic")(build_mimic_command)


_mount_build_mimic()
