"""`clinsim show RUN` and `clinsim replay RUN EPISODE`: read a stored run."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinsim.agents.models.base import ModelError
from clinsim.cli.errors import fail
from clinsim.cli.options import folder
from clinsim.environments.events import DiagnosisJudged
from clinsim.environments.faults import FaultSummary, spoiled, summarise_faults
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
        faults = _faults(store)
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        for record in records:
            found = faults.get(record.episode_id, FaultSummary())
            extra = {"faults": dict(found.faults), "spoiled": spoiled(record.correct, found)}
            typer.echo(json.dumps({"run_id": info["run_id"], **record.as_dict(), **extra}))
        return
    console = Console()
    config = info["config"]
    console.print(
        f"Run {info['run_id']}  created {info['created']:%Y-%m-%d %H:%M}  "
        f"doctor={config.get('doctor')} patient={config.get('patient')} "
        f"judges={','.join(config.get('judges', []))} "
        f"sources={','.join(config.get('sources', []))}",
        markup=False,
        highlight=False,
    )
    grades = _grades(store)
    console.print(episodes_table(records, width=console.width, faults=faults))
    console.print(summary_table(records, faults=faults, grades=grades))


def _faults(store: RunStore) -> dict[str, FaultSummary]:
    """Each episode's simulator faults and the turns they could occur on, from its events."""
    kinds = ["simulator_fault", "patient_answered", "test_reported"]
    return {
        episode: summarise_faults(events)
        for episode, events in store.events_of_kinds(kinds).items()
    }


def _grades(store: RunStore) -> Counter[str]:
    """Grades of the deciding (first) verdict of each episode, from judges that grade."""
    grades: Counter[str] = Counter()
    for events in store.events_of_kinds(["diagnosis_judged"]).values():
        judged = next((e for e in events if isinstance(e, DiagnosisJudged)), None)
        if judged is not None and judged.grade is not None:
            grades[judged.grade] += 1
    return grades


def replay(
    run: Annotated[str, typer.Argument(help="Run directory or run id under runs/.")],
    episode: Annotated[str, typer.Argument(help="Episode id as `clinsim show` lists it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored events.")] = False,
    models: Annotated[bool, typer.Option(help="Also show model calls.")] = False,
    rerun: Annotated[
        bool, typer.Option(help="Re-execute from the recorded calls; report if identical.")
    ] = False,
    fork_at: Annotated[
        int | None, typer.Option(min=1, help="Continue from this doctor turn with --doctor.")
    ] = None,
    doctor: Annotated[str | None, typer.Option(help="The doctor that plays the fork.")] = None,
    out: Annotated[
        Path | None, typer.Option(parser=folder, help="Where to store the fork (a run dir).")
    ] = None,
) -> None:
    """Render a stored episode turn by turn, re-execute it, or fork it at a turn."""
    store = _store(run)
    if rerun or fork_at is not None:
        _replay_again(store.run_dir, episode, rerun, fork_at, doctor, out)
        return
    try:
        events = store.events(episode)
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        for event in events:
            typer.echo(event.model_dump_json())
        return
    render_transcript(Console(), events, show_models=models)


def _replay_again(
    run_dir: Path,
    episode: str,
    rerun: bool,
    fork_at: int | None,
    doctor: str | None,
    out: Path | None,
) -> None:
    from clinsim.replaying import fork_episode, fork_name, rerun_episode

    try:
        if rerun:
            result = asyncio.run(rerun_episode(run_dir, episode))
            if result.identical:
                typer.echo(f"{episode}: identical ({len(result.events)} events)")
                return
            at = result.difference
            typer.echo(f"{episode}: DIFFERENT from event {at}", err=True)
            for label, events in (("stored", result.original), ("rerun", result.events)):
                if at is not None and at < len(events):
                    typer.echo(f"  {label}: {events[at].model_dump_json()[:300]}", err=True)
            raise typer.Exit(1)
        if doctor is None:
            fail("--fork-at needs --doctor ADDRESS: who plays from that turn on")
        assert fork_at is not None
        target = out or run_dir / "forks" / fork_name(episode, fork_at, doctor)
        result = asyncio.run(fork_episode(run_dir, episode, fork_at, doctor, target))
    except (StoreError, ValueError, ModelError) as exc:
        fail(str(exc))
    shared = "shares" if result.identical else "does NOT share"
    typer.echo(f"fork of {episode} at turn {fork_at} with {doctor}: stored in {target}")
    typer.echo(f"it {shared} the original's {len(result.original)}-event prefix")
    if not result.identical:
        raise typer.Exit(1)
