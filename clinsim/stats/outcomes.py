"""The input of every statistic: one row per finished episode.

An `Outcome` holds what the figures need and nothing of how a run was stored, so the same
functions serve a run, a cell of an experiment or a table someone built by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field


class Outcome(BaseModel):
    """One episode's result, as the statistics see it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str = Field(description="Run label: a run id or an experiment cell's name.")
    scenario_id: str
    scenario_set: str
    trial: int = Field(default=0, ge=0, description="Repeat number of the scenario in the run.")
    correct: bool = Field(description="The primary judge's verdict.")
    grade: float | None = Field(default=None, description="Graded score in [0, 1], if any.")
    termination: str = Field(description="Why the episode ended (diagnosed, turn_limit, ...).")
    cost: float = Field(ge=0, description="Cost of the tests ordered, in USD.")
    turns: int = Field(ge=0)
    tests: int = Field(ge=0)
    tool_calls: int = Field(default=0, ge=0)
    tools: dict[str, int] = Field(default_factory=dict, description="Calls per tool name.")
    diagnosis: str | None = None
    reference: str = ""
    episode_id: str | None = Field(default=None, description="Where to find the transcript.")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Scenario tags to break results down by (specialty...)."
    )

    @property
    def key(self) -> tuple[str, int]:
        """What pairs this episode with another run's: the scenario and the trial."""
        return (self.scenario_id, self.trial)


class OutcomeError(ValueError):
    """A table of outcomes the statistics cannot use (empty, duplicated, mixed runs)."""


def check_outcomes(outcomes: Sequence[Outcome]) -> None:
    """Refuse an empty table and a (run, scenario, trial) that appears twice."""
    if not outcomes:
        raise OutcomeError("no episodes: nothing to summarise")
    seen: set[tuple[str, str, int]] = set()
    for o in outcomes:
        key = (o.run, o.scenario_id, o.trial)
        if key in seen:
            raise OutcomeError(
                f"run {o.run!r}: scenario {o.scenario_id!r} trial {o.trial} appears twice"
            )
        seen.add(key)


def by_run(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    """Outcomes grouped by run label, in order of first appearance."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.run].append(o)
    return dict(groups)


@dataclass(frozen=True)
class Clusters:
    """Per-scenario sums: the unit a bootstrap resamples, so trials stay with their scenario."""

    scenarios: list[str]
    episodes: NDArray[np.float64]
    """Episodes per scenario (the trials it has)."""

    def __len__(self) -> int:
        return len(self.scenarios)


def cluster_sums(
    outcomes: Sequence[Outcome], values: Sequence[float]
) -> tuple[Clusters, NDArray[np.float64]]:
    """Sum `values` (one per outcome) within each scenario; also count each scenario's episodes."""
    index: dict[str, int] = {}
    for o in outcomes:
        index.setdefault(o.scenario_id, len(index))
    sums = np.zeros(len(index))
    counts = np.zeros(len(index))
    for o, v in zip(outcomes, values, strict=True):
        sums[index[o.scenario_id]] += v
        counts[index[o.scenario_id]] += 1
    return Clusters(list(index), counts), sums


def trials_per_scenario(outcomes: Sequence[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for o in outcomes:
        counts[o.scenario_id] += 1
    return dict(counts)
