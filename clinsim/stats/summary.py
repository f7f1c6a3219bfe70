"""One run's figures: accuracy and means with intervals, pass^k, and breakdowns."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from clinsim.stats.intervals import (
    DEFAULT_RESAMPLES,
    Interval,
    cluster_bootstrap_ratio,
    wilson_interval,
)
from clinsim.stats.outcomes import (
    Outcome,
    OutcomeError,
    by_run,
    check_outcomes,
    cluster_sums,
    trials_per_scenario,
)
from clinsim.stats.passk import PassK, pass_k_table

NO_TAG = "(none)"


class Settings(BaseModel):
    """How intervals are made; the same settings give the same figures."""

    model_config = ConfigDict(frozen=True)

    level: float = Field(default=0.95, gt=0, lt=1)
    resamples: int = Field(default=DEFAULT_RESAMPLES, ge=100)
    seed: int = 0


class Group(BaseModel):
    """The episodes sharing one value of a breakdown (one set, one reason, one tag value)."""

    model_config = ConfigDict(frozen=True)

    value: str
    episodes: int
    scenarios: int
    share: float = Field(description="Fraction of the run's episodes.")
    accuracy: Interval
    mean_cost: float
    mean_turns: float


class Breakdown(BaseModel):
    model_config = ConfigDict(frozen=True)

    by: str = Field(description="'set', 'termination' or 'tag:<name>'.")
    groups: list[Group]


class RunSummary(BaseModel):
    """Everything `show`, `experiment show` and the report print for one run."""

    model_config = ConfigDict(frozen=True)

    run: str
    episodes: int
    scenarios: int
    trials: int = Field(description="Most trials any scenario has (K).")
    balanced: bool = Field(description="Every scenario has the same number of trials.")
    correct: int
    accuracy: Interval
    grade: Interval | None = Field(description="Mean grade, where every episode has one.")
    cost: Interval = Field(description="Mean cost per episode, USD.")
    turns: Interval
    tests: Interval
    tool_calls: Interval
    pass_k: list[PassK]
    terminations: dict[str, int]
    breakdowns: list[Breakdown]


def accuracy_interval(outcomes: Sequence[Outcome], settings: Settings) -> Interval:
    """Wilson when each scenario ran once; otherwise a bootstrap over scenarios."""
    correct = sum(o.correct for o in outcomes)
    if max(trials_per_scenario(outcomes).values()) == 1:
        return wilson_interval(correct, len(outcomes), settings.level)
    return mean_interval(outcomes, lambda o: float(o.correct), settings)


def mean_interval(
    outcomes: Sequence[Outcome], value: Callable[[Outcome], float], settings: Settings
) -> Interval:
    """Mean of `value` per episode, with a bootstrap over scenarios (trials nested inside)."""
    clusters, sums = cluster_sums(outcomes, [value(o) for o in outcomes])
    return cluster_bootstrap_ratio(
        sums,
        clusters.episodes,
        n=len(outcomes),
        level=settings.level,
        resamples=settings.resamples,
        seed=settings.seed,
    )


def summarize(outcomes: Sequence[Outcome], settings: Settings | None = None) -> RunSummary:
    """Figures for one run's episodes (all with the same run label)."""
    settings = settings or Settings()
    check_outcomes(outcomes)
    runs = {o.run for o in outcomes}
    if len(runs) != 1:
        raise OutcomeError(f"summarize takes one run's episodes, got {len(runs)}: {sorted(runs)}")
    trials = trials_per_scenario(outcomes)
    graded = all(o.grade is not None for o in outcomes)
    return RunSummary(
        run=outcomes[0].run,
        episodes=len(outcomes),
        scenarios=len(trials),
        trials=max(trials.values()),
        balanced=len(set(trials.values())) == 1,
        correct=sum(o.correct for o in outcomes),
        accuracy=accuracy_interval(outcomes, settings),
        grade=mean_interval(outcomes, lambda o: o.grade or 0.0, settings) if graded else None,
        cost=mean_interval(outcomes, lambda o: o.cost, settings),
        turns=mean_interval(outcomes, lambda o: o.turns, settings),
        tests=mean_interval(outcomes, lambda o: o.tests, settings),
        tool_calls=mean_interval(outcomes, lambda o: o.tool_calls, settings),
        pass_k=pass_k_table(outcomes, settings.level, settings.resamples, settings.seed),
        terminations=dict(Counter(o.termination for o in outcomes).most_common()),
        breakdowns=breakdowns(outcomes, settings),
    )


def summarize_runs(
    outcomes: Sequence[Outcome], settings: Settings | None = None
) -> list[RunSummary]:
    """One summary per run label, in order of first appearance."""
    check_outcomes(outcomes)
    return [summarize(group, settings) for group in by_run(outcomes).values()]


def breakdowns(outcomes: Sequence[Outcome], settings: Settings) -> list[Breakdown]:
    """By scenario set, by termination reason and by every tag any episode carries."""
    tag_names = sorted({name for o in outcomes for name in o.tags})
    keys: list[tuple[str, Callable[[Outcome], str]]] = [
        ("set", lambda o: o.scenario_set),
        ("termination", lambda o: o.termination),
    ]
    keys += [(f"tag:{name}", _tag_getter(name)) for name in tag_names]
    return [Breakdown(by=by, groups=_groups(outcomes, key, settings)) for by, key in keys]


def _tag_getter(name: str) -> Callable[[Outcome], str]:
    return lambda o: o.tags.get(name, NO_TAG)


def _groups(
    outcomes: Sequence[Outcome], key: Callable[[Outcome], str], settings: Settings
) -> list[Group]:
    grouped: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        grouped[key(o)].append(o)
    groups = [
        Group(
            value=value,
            episodes=len(members),
            scenarios=len({o.scenario_id for o in members}),
            share=len(members) / len(outcomes),
            accuracy=accuracy_interval(members, settings),
            mean_cost=sum(o.cost for o in members) / len(members),
            mean_turns=sum(o.turns for o in members) / len(members),
        )
        for value, members in grouped.items()
    ]
    return sorted(groups, key=lambda g: (-g.episodes, g.value))
