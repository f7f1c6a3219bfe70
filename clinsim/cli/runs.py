"""`clinsim show RUN` and `clinsim replay RUN EPISODE`: read a stored run."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from clinsim.cli.errors import fail
from clinsim.render import episodes_table, render_transcript, summary_table
from clinsim.store import RunStore, StoreError, resolve_run_dir


def _store(run: str) -> RunStore:
    try:
        return RunStore(resolve_run_dir(run))
    except StoreError as exc:
        fail(str(exc))


def show(
    run: Annotated[str, typer.Argument(help="Run directory or run id under runs/.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per episode.")] = False,
) -> None:
    """Summarise a stored run."""
    store = _store(run)
    try:
        info = store.run_info()
        records = store.episodes()
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        for record in records:
            typer.echo(json.dumps({"run_id": info["run_id"], **record.as_dict()}))
        return
    console = Console()
    config = info["config"]
    console.print(
        f"[bold]Run {info['run_id']}[/]  created {info['created']:%Y-%m-%d %H:%M}  "
        f"doctor={config.get('doctor')} patient={config.get('patient')} "
        f"judges={','.join(config.get('judges', []))} sources={','.join(config.get('sources', []))}"
    )
    console.print(episodes_table(records))
    console.print(summary_table(records))


def replay(
    run: Annotated[str, typer.Argument(help="Run directory or run id under runs/.")],
    episode: Annotated[str, typer.Argument(help="Episode id as `clinsim show` lists it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored events.")] = False,
    models: Annotated[bool, typer.Option(help="Also show model calls.")] = False,
) -> None:
    """Render a stored episode turn by turn."""
    store = _store(run)
    try:
        events = store.events(episode)
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        for event in events:
            typer.echo(event.model_dump_json())
        return
    render_transcript(Console(), events, show_models=models)
