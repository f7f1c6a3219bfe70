"""An experiment's figures: one summary per cell, the comparisons its file asks for, and the
accuracy-cost frontier when budgets vary.

A comparison over a grid key compares the cells that differ only in that key, once for every
setting of the other keys ("doctor, at max_turns=4"); a list of cells compares those cells.
Cells with no stored episode yet are shown as such and left out of comparisons.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from clinsim.environments.run_store import RUN_STORE_FILE
from clinsim.experiment.cells import Cell, short_key, value_text
from clinsim.experiment.execute import Experiment
from clinsim.prompting import note_prompt_differences
from clinsim.results import RunResults, load_results
from clinsim.stats import (
    Comparison,
    FrontierPoint,
    OutcomeError,
    RunSummary,
    Settings,
    accuracy_cost_frontier,
    compare_runs,
    summarize,
)


class CellFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    cell: str
    directory: str
    settings: dict[str, JsonValue]
    expected: int | None
    stored: int
    summary: RunSummary | None


class NamedComparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    comparison: Comparison | None
    names: dict[str, str] = Field(
        default_factory=dict, description="Cell -> its value of the compared key."
    )
    note: str = ""


class ExperimentFigures(BaseModel):
    """What `clinsim experiment show` prints (and `--json` writes)."""

    model_config = ConfigDict(frozen=True)

    name: str
    directory: str
    grid: dict[str, list[JsonValue]]
    cells: list[CellFigures]
    comparisons: list[NamedComparison]
    frontier: list[FrontierPoint]


@dataclass
class LoadedCells:
    experiment: Experiment
    results: dict[str, RunResults] = field(default_factory=dict)
    """Cell label -> its stored run (cells begun only)."""


def load_cells(experiment: Experiment) -> LoadedCells:
    loaded = LoadedCells(experiment)
    for cell in experiment.cells:
        directory = experiment.cell_dir(cell)
        if (directory / RUN_STORE_FILE).is_file():
            loaded.results[cell.label] = load_results(directory, label=cell.label)
    return loaded


def comparison_groups(experiment: Experiment) -> list[tuple[str, list[Cell], dict[str, str]]]:
    """(title, cells, short names) for every comparison the file asks for, in its order."""
    by_label = {cell.label: cell for cell in experiment.cells}
    groups: list[tuple[str, list[Cell], dict[str, str]]] = []
    for entry in experiment.spec.report.compare:
        if isinstance(entry, list):
            groups.append(("cells", [by_label[label] for label in entry], {}))
            continue
        others: dict[str, list[Cell]] = defaultdict(list)
        for cell in experiment.cells:
            fixed = {k: v for k, v in cell.settings.items() if k != entry}
            others[", ".join(f"{short_key(k)}={value_text(v)}" for k, v in fixed.items())].append(
                cell
            )
        for fixed_text, cells in others.items():
            title = short_key(entry) + (f" at {fixed_text}" if fixed_text else "")
            names = {c.label: value_text(c.settings[entry]) for c in cells}
            groups.append((title, cells, names))
    return groups


def _compare(
    loaded: LoadedCells,
    title: str,
    cells: list[Cell],
    names: dict[str, str],
    settings: Settings,
) -> NamedComparison:
    present = [c.label for c in cells if c.label in loaded.results]
    present = [label for label in present if loaded.results[label].outcomes]
    named = NamedComparison(title=title, comparison=None, names=names)
    if len(present) < 2:
        return named.model_copy(update={"note": "fewer than two cells have episodes"})
    outcomes = [o for label in present for o in loaded.results[label].outcomes]
    try:
        comparison = compare_runs(outcomes, present, settings)
    except OutcomeError as exc:
        return named.model_copy(update={"note": str(exc)})
    configs = {label: loaded.results[label].stored for label in present}
    return named.model_copy(update={"comparison": note_prompt_differences(comparison, configs)})


def experiment_figures(
    experiment: Experiment, settings: Settings | None = None, loaded: LoadedCells | None = None
) -> ExperimentFigures:
    settings = settings or Settings()
    loaded = loaded or load_cells(experiment)
    cells = []
    summaries = []
    for cell in experiment.cells:
        found = loaded.results.get(cell.label)
        summary = summarize(found.outcomes, settings) if found and found.outcomes else None
        if summary is not None:
            summaries.append(summary)
        cells.append(
            CellFigures(
                cell=cell.label,
                directory=cell.directory,
                settings=dict(cell.settings),
                expected=experiment.expected.get(cell.directory),
                stored=len(found.records) if found else 0,
                summary=summary,
            )
        )
    comparisons = [
        _compare(loaded, title, group, names, settings)
        for title, group, names in comparison_groups(experiment)
    ]
    budgets = "budget" in experiment.spec.grid
    return ExperimentFigures(
        name=experiment.spec.name,
        directory=str(experiment.directory),
        grid={k: list(v) for k, v in experiment.spec.grid.items()},
        cells=cells,
        comparisons=comparisons,
        frontier=accuracy_cost_frontier(summaries) if budgets and len(summaries) >= 2 else [],
    )
