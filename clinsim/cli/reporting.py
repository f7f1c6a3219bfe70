"""`clinsim report RUN_OR_EXPERIMENT... --out report.html`."""

from __future__ import annotations

from pathlib import Path

import typer

from clinsim.cli.errors import fail
from clinsim.environments.events import Event
from clinsim.environments.run_store import RunStore, StoreError, resolve_run_dir
from clinsim.experiment.execute import EXPERIMENT_FILE, load_experiment
from clinsim.experiment.results import load_cells
from clinsim.experiment.spec import ExperimentError
from clinsim.report import render_report
from clinsim.report.from_store import report_from_runs
from clinsim.results import RunResults, load_runs
from clinsim.stats import OutcomeError


def _gather(sources: list[str], names: list[str]) -> list[RunResults]:
    """Every run the arguments name: experiments give one run per cell begun (their names are
    added to `names`)."""
    runs: list[RunResults] = []
    plain: list[Path] = []
    for source in sources:
        path = Path(source)
        if (path / EXPERIMENT_FILE).is_file():
            experiment = load_experiment(path)
            names.append(experiment.spec.name)
            runs += load_cells(experiment).results.values()
        else:
            plain.append(resolve_run_dir(source))
    runs += load_runs(plain)
    labels = [r.label for r in runs]
    for label in labels:
        if labels.count(label) > 1:
            raise StoreError(f"two runs are both called {label!r}: report them separately")
    return [r for r in runs if r.outcomes] or runs


def _title(runs: list[RunResults], experiments: list[str], sources: int) -> str:
    if len(experiments) == sources == 1:
        return f"Experiment {experiments[0]}"
    if len(runs) == 1:
        return f"Run {runs[0].label}"
    return f"clinsim report: {len(runs)} runs"


def report_command(sources: list[str], out: Path, title: str | None) -> None:
    experiments: list[str] = []
    try:
        runs = _gather(sources, experiments)
        if not any(r.outcomes for r in runs):
            fail("no stored episode in " + ", ".join(sources))
        events: list[dict[str, list[Event]]] = [RunStore(r.run_dir).all_events() for r in runs]
        name = title or _title(runs, experiments, len(sources))
        data = report_from_runs(runs, events, name)
        html = render_report(data)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except (StoreError, ExperimentError, OutcomeError, OSError) as exc:
        fail(str(exc))
    episodes = sum(len(r.outcomes) for r in runs)
    typer.echo(f"wrote {out} ({len(runs)} runs, {episodes} episodes, {len(html) / 1e6:.1f} MB)")
