"""`clinsim show RUN` and `clinsim replay RUN EPISODE`: read a stored run, re-execute an
episode, or fork it at a turn with another doctor (a model, an offline doctor or a person)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from clinsim.agents.models.base import ModelError
from clinsim.cli import flags
from clinsim.cli.errors import fail
from clinsim.cli.flags import ModelFlags
from clinsim.cli.options import folder
from clinsim.cli.terminal import terminal_responder
from clinsim.config import Fork
from clinsim.environments.events import (
    DiagnosisJudged,
    Event,
    PatientAnswered,
    PatientLeakBlocked,
    SimulatorFault,
    TestReported,
)
from clinsim.environments.faults import FaultSummary, spoiled, summarise_faults
from clinsim.plugins import PluginError
from clinsim.render import episodes_table, faults_table, render_event, render_transcript

if TYPE_CHECKING:  # DuckDB, the statistics and the encounter graph load on first use
    from clinsim.environments.run_store import RunStore, SkippedRecord
    from clinsim.results import RunResults
    from clinsim.stats import RunSummary

Opt = typer.Option


def _store(run: str) -> RunStore:
    from clinsim.environments.run_store import RunStore, StoreError, resolve_run_dir

    try:
        return RunStore(resolve_run_dir(run))
    except StoreError as exc:
        fail(str(exc))


def show(
    run: Annotated[str, typer.Argument(help="Run directory or run id under runs/.")],
    as_json: Annotated[
        bool, Opt("--json", help="The run, its figures and its episodes as one JSON object.")
    ] = False,
) -> None:
    """Summarise a stored run: accuracy, pass^k and means with intervals, breakdowns."""
    from clinsim.environments.run_store import StoreError
    from clinsim.render_stats import breakdown_tables, grades_line, summary_figures
    from clinsim.replaying import fork_doctors
    from clinsim.results import load_results
    from clinsim.stats import summarize

    store = _store(run)
    try:
        results = load_results(store.run_dir)
        faults = _faults(store)
        grades = _grades(store)
    except StoreError as exc:
        fail(str(exc))
    info, records, stored = results.info, results.records, results.stored
    summary = summarize(results.outcomes) if results.outcomes else None
    if as_json:
        typer.echo(json.dumps(_shown(results, summary, faults, grades), ensure_ascii=False))
        return
    console = Console()
    config = stored.run
    doctor = config.doctor if stored.fork is None else fork_doctors(config.doctor, stored.fork)
    console.print(
        f"Run {info.run_id}  created {info.created:%Y-%m-%d %H:%M}  "
        f"doctor={doctor} patient={config.patient} judges={','.join(config.judges)} "
        f"sources={','.join(config.sources)} presentation={config.presentation}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(episodes_table(records, width=console.width, faults=faults))
    _print_skipped(console, info.skipped)
    if summary is None:
        console.print("no episode stored yet")
        return
    console.print(summary_figures(summary))
    if grades:
        console.print(grades_line(grades))
    for table in breakdown_tables(summary):
        console.print(table)
    console.print(faults_table(records, faults))
    for note in results.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _shown(
    results: RunResults,
    summary: RunSummary | None,
    faults: dict[str, FaultSummary],
    grades: Counter[str],
) -> dict[str, object]:
    """`clinsim show --json`: the run, its figures (those the tables show) and its episodes."""
    episodes = []
    for record in results.records:
        found = faults.get(record.episode_id, FaultSummary())
        extra = {"faults": dict(found.faults), "spoiled": spoiled(record.correct, found)}
        episodes.append({**record.model_dump(), **extra})
    return {
        "run_id": results.info.run_id,
        "created": results.info.created.isoformat(),
        "config": results.stored.model_dump(mode="json"),
        "summary": summary.model_dump(mode="json") if summary else None,
        "grades": dict(grades),
        "spoiled": sum(e["spoiled"] is True for e in episodes),
        "notes": results.notes,
        "skipped": [record.model_dump() for record in results.info.skipped],
        "episodes": episodes,
    }


def _print_skipped(console: Console, skipped: list[SkippedRecord]) -> None:
    if skipped:
        plural = "s" if len(skipped) > 1 else ""
        console.print(
            f"{len(skipped)} scenario record{plural} skipped (unreadable; not counted): "
            + "; ".join(f"{s.file}:{s.line}: {s.message}" for s in skipped),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _faults(store: RunStore) -> dict[str, FaultSummary]:
    """Each episode's simulator faults and the turns they could occur on, from its events."""
    kinds = store.events_of(SimulatorFault, PatientAnswered, TestReported)
    return {episode: summarise_faults(events) for episode, events in kinds.items()}


def _grades(store: RunStore) -> Counter[str]:
    """Grades of the deciding (first) verdict of each episode, from judges that grade."""
    grades: Counter[str] = Counter()
    for events in store.events_of(DiagnosisJudged).values():
        judged = next((e for e in events if isinstance(e, DiagnosisJudged)), None)
        if judged is not None and judged.grade is not None:
            grades[judged.grade] += 1
    return grades


def replay(
    run: Annotated[str, typer.Argument(help="Run directory or run id under runs/.")],
    episode: Annotated[str, typer.Argument(help="Episode id as `clinsim show` lists it.")],
    as_json: Annotated[bool, Opt("--json", help="Print the stored events.")] = False,
    models: Annotated[bool, Opt(help="Also show model calls.")] = False,
    rerun: Annotated[
        bool, Opt(help="Re-execute from the recorded calls; report if identical.")
    ] = False,
    fork_at: Annotated[
        int | None, Opt(min=1, help="Continue from this doctor turn with --doctor.")
    ] = None,
    doctor: Annotated[
        str | None, Opt(help="Who plays the fork: a model address, an offline doctor or human.")
    ] = None,
    out: Annotated[
        Path | None, Opt(parser=folder, help="Where to store the fork (a run dir).")
    ] = None,
    base_url: flags.BaseUrl = None,
    api_key: flags.ApiKey = None,
    timeout: flags.Timeout = None,
    temperature: flags.Temperature = None,
    doctor_protocol: flags.DoctorProtocol = None,
    doctor_bias: flags.DoctorBias = None,
    model_option: flags.ModelOption = None,
    agent_option: flags.AgentOption = None,
    prompt: flags.PromptFile = None,
) -> None:
    """Render a stored episode turn by turn, re-execute it, or fork it at a turn."""
    from clinsim.environments.run_store import StoreError

    store = _store(run)
    if rerun:
        _rerun(store.run_dir, episode)
        return
    if fork_at is not None:
        if doctor is None:
            fail("--fork-at needs --doctor ADDRESS: who plays from that turn on")
        options = ModelFlags(
            base_url, timeout, temperature, doctor_protocol, doctor_bias, model_option, agent_option
        )
        _fork(store.run_dir, episode, fork_at, doctor, out, options, api_key, prompt)
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


def _rerun(run_dir: Path, episode: str) -> None:
    from clinsim.environments.run_store import StoreError
    from clinsim.replaying import rerun_episode

    try:
        result = asyncio.run(rerun_episode(run_dir, episode))
    except (StoreError, ValueError, ModelError, PluginError) as exc:
        fail(str(exc))
    if result.identical:
        typer.echo(f"{episode}: identical ({len(result.events)} events)")
        return
    at = result.difference
    typer.echo(f"{episode}: DIFFERENT from event {at}", err=True)
    for label, events in (("stored", result.original), ("rerun", result.events)):
        if at is not None and at < len(events):
            typer.echo(f"  {label}: {events[at].model_dump_json()[:300]}", err=True)
    raise typer.Exit(1)


def _fork(
    run_dir: Path,
    episode: str,
    turn: int,
    doctor: str,
    out: Path | None,
    options: ModelFlags,
    api_key: str | None,
    prompt: list[str] | None = None,
) -> None:
    from clinsim.environments.run_store import StoreError
    from clinsim.replaying import Live, fork_episode, fork_name

    target = out or run_dir / "forks" / fork_name(episode, turn, doctor)
    live = Live(api_key=api_key)
    if doctor == "human":  # a person takes over: the transcript so far, then their turns
        console = Console()

        def show_event(_episode: str, event: Event) -> None:
            if not isinstance(event, PatientLeakBlocked):  # it names the diagnosis
                render_event(console, event)

        live = Live(api_key, on_event=show_event, respond=terminal_responder(console))
    try:
        fork = Fork(
            doctor=doctor,
            turn=turn,
            agent_options=options.agent_options(),
            model_options=options.model_options(),
            prompts=flags.prompt_flags(prompt),
        )
        result = asyncio.run(fork_episode(run_dir, episode, fork, target, live))
    except (StoreError, ValueError, ModelError, PluginError) as exc:
        fail(flags.explain(exc))
    shared = "shares" if result.identical else "does NOT share"
    typer.echo(f"fork of {episode} at turn {turn} with {doctor}: stored in {target}")
    typer.echo(f"it {shared} the original's {len(result.original)}-event prefix")
    if not result.identical:
        raise typer.Exit(1)
