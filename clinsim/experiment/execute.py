"""Running an experiment: its directory, its cells one after another, and who plays them.

    <experiment>/experiment.json    the checked experiment (name, base, grid, report) and cells
    <experiment>/experiment.toml    the file it was run from, as given
    <experiment>/cells/<cell>/      one run directory per cell (`clinsim show` reads each)

Cells run one after another; an interrupted experiment keeps every episode it finished, and
`--resume` completes it cell by cell (a cell's stored settings must match the file's).

An `Executor` plays a cell's episodes (or a `clinsim run`'s); the process that runs the
experiment (the driver) is the only writer of the stores. `local` plays them in this process,
`max_concurrency` at a time. `ray[:ADDRESS]` (`clinsim.cluster`) plays the same `EpisodeJob`s on
a Ray cluster from the cell's plain-data `RunConfig`, and hands each finished episode's events
back to the driver, which summarises and stores them. An executor is chosen by name
(`--executor NAME[:ADDRESS]`) and nothing else changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from clinsim.agents.models.registry import ModelPool
from clinsim.components import Plan
from clinsim.environments.run_store import EpisodeRecord, RunStore
from clinsim.experiment.cells import Cell, check_cells, check_comparisons, expand
from clinsim.experiment.spec import ExperimentError, ExperimentSpec, load_spec
from clinsim.run_dirs import episodes_to_skip
from clinsim.runner import Runner, episode_jobs
from clinsim.scenarios.errors import ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_scenarios

EXPERIMENT_FILE = "experiment.json"
SPEC_COPY = "experiment.toml"
CELLS_DIR = "cells"
MAY_CHANGE = {"max_concurrency"}
"""Base settings a resumed experiment may change."""


@dataclass
class Experiment:
    directory: Path
    spec: ExperimentSpec
    cells: list[Cell]

    def cell_dir(self, cell: Cell) -> Path:
        return self.directory / CELLS_DIR / cell.directory

    expected: dict[str, int] = field(default_factory=dict)
    """Cell directory -> the episodes it holds when complete (as its scenarios were loaded)."""

    def record(self) -> dict[str, object]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "cells": [
                {
                    "label": c.label,
                    "directory": c.directory,
                    "settings": c.settings,
                    "episodes": self.expected.get(c.directory),
                }
                for c in self.cells
            ],
        }


@dataclass(frozen=True)
class RunTask:
    """What an executor plays: a run's (or a cell's) plan, its scenarios, the episodes already
    stored."""

    run_id: str
    plan: Plan
    scenarios: list[Scenario]
    store: RunStore
    skip: set[str]


@dataclass
class CellResult:
    played: int
    write_errors: list[str] = field(default_factory=list)
    replayed: int = 0
    """Episodes played again elsewhere after the worker playing them was lost."""


OnEpisode = Callable[[EpisodeRecord], None]


class Executor(Protocol):
    name: str

    def open(self) -> None:
        """Get ready to play (a cluster: connect to it); `ExperimentError` says why not."""
        ...

    def check_pool(self) -> ModelPool:
        """The models the driver builds roles with to check them before the run."""
        ...

    def run_cell(self, task: RunTask, on_done: OnEpisode) -> CellResult:
        """Play the task's episodes not in `task.skip`; store each as it finishes."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Plays a cell's episodes in this process, `max_concurrency` at once (asyncio)."""

    name = "local"

    def open(self) -> None:
        pass

    def check_pool(self) -> ModelPool:
        return ModelPool()

    def run_cell(self, task: RunTask, on_done: OnEpisode) -> CellResult:
        runner = Runner(task.plan, task.store, task.run_id)
        played = asyncio.run(runner.run(task.scenarios, skip=task.skip, on_done=on_done))
        return CellResult(len(played), runner.write_errors)

    def close(self) -> None:
        pass


def _ray_executor(address: str) -> Executor:
    from clinsim.cluster.executor import ClusterError, RayExecutor

    try:
        return RayExecutor(address)
    except ClusterError as exc:
        raise ExperimentError(str(exc)) from None


EXECUTORS: dict[str, Callable[[str], Executor]] = {
    "local": lambda _address: LocalExecutor(),
    "ray": _ray_executor,
}


def executor_for(text: str) -> Executor:
    """`local`, or `ray[:ADDRESS]` (`ray` alone starts a local Ray instance; `ray:auto` joins
    this machine's cluster, `ray:HOST:PORT` or `ray:ray://HOST:PORT` another)."""
    name, _, address = text.partition(":")
    if name not in EXECUTORS:
        raise ExperimentError(
            f"--executor {text}: no executor {name!r} (executors: {', '.join(EXECUTORS)})"
        )
    if name == "local" and address:
        raise ExperimentError("--executor local takes no address")
    return EXECUTORS[name](address)


def _scenarios(
    cells: list[Cell], cache: dict[tuple[tuple[str, ...], str], list[Scenario]]
) -> list[list[Scenario]]:
    """Each cell's scenarios (its sources, image folder and limit); a source that does not load
    is an error naming the cell."""
    found = []
    for cell in cells:
        c = cell.config
        key = (tuple(c.sources), str(c.image_dir or ""))
        if key not in cache:
            try:
                cache[key] = load_scenarios(c.sources, c.image_dir)
            except (ScenarioLoadError, UnknownScenarioSet) as exc:
                raise ExperimentError(f"cell {cell.label}: {exc}") from None
        found.append(cache[key][: c.limit] if c.limit else cache[key])
    return found


def _differences(old: dict[str, object], new: dict[str, object]) -> list[str]:
    changed = [k for k in new if k != "base" and old.get(k) != new[k]]
    old_base = old.get("base")
    new_base = new["base"]
    if isinstance(old_base, dict) and isinstance(new_base, dict):
        changed += [
            f"base.{k}" for k in new_base if k not in MAY_CHANGE and old_base.get(k) != new_base[k]
        ]
    return changed


def _check_directory(experiment: Experiment, resume: bool) -> None:
    record = experiment.directory / EXPERIMENT_FILE
    if not record.exists():
        if (experiment.directory / CELLS_DIR).exists():
            raise ExperimentError(f"{experiment.directory}: holds cells but no {EXPERIMENT_FILE}")
        return
    if not resume:
        raise ExperimentError(
            f"{experiment.directory} already holds an experiment: use --resume to complete it, "
            "or choose another --out"
        )
    try:
        stored = json.loads(record.read_text(encoding="utf-8"))["spec"]
    except (OSError, ValueError, KeyError) as exc:
        raise ExperimentError(f"{record}: cannot read it ({exc})") from None
    changed = _differences(stored, experiment.spec.model_dump(mode="json"))
    if changed:
        raise ExperimentError(
            f"{experiment.directory} was begun with another experiment file "
            f"({', '.join(changed)} changed); resume it with the same file"
        )


@dataclass
class Prepared:
    experiment: Experiment
    plans: list[Plan]
    scenarios: list[list[Scenario]]


def prepare(path: Path, out: Path | None, resume: bool, api_key: str | None = None) -> Prepared:
    """Read and check the file, every cell and the directory: all before anything runs."""
    spec = load_spec(path)
    try:
        cells = expand(spec)
        check_comparisons(spec, cells)
        plans = check_cells(cells, api_key)
    except ExperimentError as exc:
        raise ExperimentError(f"{path}: {exc}") from None
    experiment = Experiment(out or Path("experiments") / path.stem, spec, cells)
    _check_directory(experiment, resume)
    scenarios = _scenarios(cells, {})
    for cell, found in zip(cells, scenarios, strict=True):
        experiment.expected[cell.directory] = len(found) * cell.config.trials
    return Prepared(experiment, plans, scenarios)


def begin(prepared: Prepared, source: Path) -> None:
    """Write the experiment's record (first time only) next to a copy of its file."""
    experiment = prepared.experiment
    experiment.directory.mkdir(parents=True, exist_ok=True)
    record = experiment.directory / EXPERIMENT_FILE
    if not record.exists():
        (experiment.directory / SPEC_COPY).write_bytes(source.read_bytes())
        record.write_text(json.dumps(experiment.record(), indent=2), encoding="utf-8")


def cell_task(prepared: Prepared, index: int) -> RunTask | None:
    """The cell's task, None when the cell is complete; a new cell's store is created."""
    cell, plan = prepared.experiment.cells[index], prepared.plans[index]
    store = RunStore(prepared.experiment.cell_dir(cell))
    skip = episodes_to_skip(store, plan.stored(), resume=True)
    jobs = episode_jobs(prepared.scenarios[index], cell.config.trials)
    if jobs and all(job.episode_id in skip for job in jobs):
        return None
    if not store.exists():
        store.create(cell.directory, plan.stored().model_dump(mode="json"))
    return RunTask(cell.directory, plan, prepared.scenarios[index], store, skip)


def load_experiment(directory: Path) -> Experiment:
    """A stored experiment, as `experiment show`, `query` and `report` read it."""
    record = directory / EXPERIMENT_FILE
    if not record.is_file():
        raise ExperimentError(f"{directory}: not an experiment directory (no {EXPERIMENT_FILE})")
    try:
        raw = json.loads(record.read_text(encoding="utf-8"))
        spec = ExperimentSpec.model_validate(raw["spec"])
    except (OSError, ValueError, KeyError) as exc:
        raise ExperimentError(f"{record}: cannot read it ({exc})") from None
    cells = expand(spec)
    stored = raw.get("cells", [])
    if [c.get("directory") for c in stored] != [c.directory for c in cells]:
        raise ExperimentError(f"{record}: its cells do not match its grid")
    expected = {c["directory"]: c["episodes"] for c in stored if c.get("episodes") is not None}
    return Experiment(directory, spec, cells, expected)
