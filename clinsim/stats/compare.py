"""Paired comparison of runs over the same scenarios (and trials).

Episodes pair by (scenario, trial). The accuracy difference gets a paired bootstrap interval over
scenarios (a scenario's trials move together), the exact McNemar test counts the discordant pairs,
and with more than two runs every pair of runs is compared and the p-values are Holm-corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

from pydantic import BaseModel, ConfigDict, Field

from clinsim.stats.intervals import Interval, cluster_bootstrap_ratio
from clinsim.stats.outcomes import Outcome, OutcomeError, by_run, check_outcomes, cluster_sums
from clinsim.stats.summary import Settings


class NoCommonScenarios(OutcomeError):
    """Two runs share no (scenario, trial): there is nothing to pair."""


class Discordant(BaseModel):
    """A scenario (trial) that one run got right and the other wrong."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    trial: int
    reference: str
    diagnosis_a: str | None
    diagnosis_b: str | None
    episode_a: str | None
    episode_b: str | None


class PairedComparison(BaseModel):
    """Run A against run B on their paired episodes. Differences are A minus B."""

    model_config = ConfigDict(frozen=True)

    run_a: str
    run_b: str
    pairs: int
    scenarios: int
    unpaired_a: int = Field(description="Episodes of A with no partner in B.")
    unpaired_b: int
    accuracy_a: float
    accuracy_b: float
    accuracy_difference: Interval
    mcnemar_p: float = Field(description="Exact (binomial) McNemar test, two-sided.")
    mcnemar_p_holm: float | None = Field(
        default=None, description="Holm-corrected across all pairs, with more than two runs."
    )
    cost_difference: Interval = Field(description="Mean cost per episode, USD.")
    turns_difference: Interval
    a_right_b_wrong: list[Discordant]
    b_right_a_wrong: list[Discordant]
    notes: list[str] = Field(default_factory=list)


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    runs: list[str]
    correction: str | None = Field(description="'holm' when more than two runs are compared.")
    pairs: list[PairedComparison]


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[0, a_only], [b_only, 0]]
    return float(mcnemar(table, exact=True).pvalue)


def compare_runs(
    outcomes: Sequence[Outcome],
    runs: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> Comparison:
    """Compare every pair of runs (in `runs` order, default: order of appearance)."""
    settings = settings or Settings()
    check_outcomes(outcomes)
    grouped = by_run(outcomes)
    order = list(runs) if runs is not None else list(grouped)
    missing = [r for r in order if r not in grouped]
    if missing:
        raise OutcomeError(f"no episodes for run(s) {', '.join(missing)}")
    if len(order) < 2 or len(set(order)) != len(order):
        raise OutcomeError(f"a comparison needs two or more distinct runs, got {order}")
    pairs = [compare_pair(grouped[a], grouped[b], settings) for a, b in combinations(order, 2)]
    if len(order) == 2:
        return Comparison(runs=order, correction=None, pairs=pairs)
    from statsmodels.stats.multitest import multipletests

    _, holm, _, _ = multipletests([p.mcnemar_p for p in pairs], method="holm")
    pairs = [
        p.model_copy(update={"mcnemar_p_holm": float(h)}) for p, h in zip(pairs, holm, strict=True)
    ]
    return Comparison(runs=order, correction="holm", pairs=pairs)


def compare_pair(
    a: Sequence[Outcome], b: Sequence[Outcome], settings: Settings
) -> PairedComparison:
    """Run A against run B, pairing episodes by (scenario, trial)."""
    run_a, run_b = a[0].run, b[0].run
    b_by_key = {o.key: o for o in b}
    paired = [(x, b_by_key[x.key]) for x in a if x.key in b_by_key]
    if not paired:
        raise NoCommonScenarios(
            f"runs {run_a!r} and {run_b!r} have no scenario (and trial) in common: "
            f"{run_a!r} ran {_sets(a)}, {run_b!r} ran {_sets(b)}"
        )
    a_wins = [_discordant(x, y) for x, y in paired if x.correct and not y.correct]
    b_wins = [_discordant(x, y) for x, y in paired if y.correct and not x.correct]
    notes = []
    if any(x.trial != 0 for x, _ in paired):
        notes.append(
            "McNemar treats the trials of a scenario as independent pairs; the bootstrap "
            "interval resamples scenarios with their trials"
        )
    n = len(paired)
    return PairedComparison(
        run_a=run_a,
        run_b=run_b,
        pairs=n,
        scenarios=len({x.scenario_id for x, _ in paired}),
        unpaired_a=len(a) - n,
        unpaired_b=len(b) - n,
        accuracy_a=sum(x.correct for x, _ in paired) / n,
        accuracy_b=sum(y.correct for _, y in paired) / n,
        accuracy_difference=_paired_difference(paired, lambda o: float(o.correct), settings),
        mcnemar_p=mcnemar_exact(len(a_wins), len(b_wins)),
        cost_difference=_paired_difference(paired, lambda o: o.cost, settings),
        turns_difference=_paired_difference(paired, lambda o: float(o.turns), settings),
        a_right_b_wrong=a_wins,
        b_right_a_wrong=b_wins,
        notes=notes,
    )


def _paired_difference(
    paired: list[tuple[Outcome, Outcome]],
    value: Callable[[Outcome], float],
    settings: Settings,
) -> Interval:
    """Mean of value(A) - value(B) over pairs; bootstrap over scenarios with their trials."""
    clusters, sums = cluster_sums([x for x, _ in paired], [value(x) - value(y) for x, y in paired])
    return cluster_bootstrap_ratio(
        sums,
        clusters.episodes,
        n=len(paired),
        level=settings.level,
        resamples=settings.resamples,
        seed=settings.seed,
    )


def _discordant(x: Outcome, y: Outcome) -> Discordant:
    return Discordant(
        scenario_id=x.scenario_id,
        trial=x.trial,
        reference=x.reference or y.reference,
        diagnosis_a=x.diagnosis,
        diagnosis_b=y.diagnosis,
        episode_a=x.episode_id,
        episode_b=y.episode_id,
    )


def _sets(outcomes: Sequence[Outcome]) -> str:
    sets = sorted({o.scenario_set for o in outcomes})
    return f"{len(outcomes)} episodes of {', '.join(sets)}"
