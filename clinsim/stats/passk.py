"""pass^k and pass@k over repeated trials of each scenario.

For a scenario tried n times with c successes, the unbiased estimators are
pass^k = C(c, k) / C(n, k) (all of k trials drawn without replacement succeed; tau-bench) and
pass@k = 1 - C(n - c, k) / C(n, k) (at least one of them does). Both are averaged over the
scenarios with at least k trials.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import comb

import numpy as np
from pydantic import BaseModel, ConfigDict

from clinsim.stats.intervals import DEFAULT_RESAMPLES, Interval, cluster_bootstrap_ratio
from clinsim.stats.outcomes import Outcome


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Chance that k of the n trials, drawn without replacement, all succeed."""
    _check(n, c, k)
    return comb(c, k) / comb(n, k)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k of the n trials, drawn without replacement, succeeds."""
    _check(n, c, k)
    return 1 - comb(n - c, k) / comb(n, k)


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"successes {c} must be between 0 and trials {n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} needs 1 <= k <= trials ({n})")


class PassK(BaseModel):
    """pass^k and pass@k for one k, averaged over the scenarios with at least k trials."""

    model_config = ConfigDict(frozen=True)

    k: int
    scenarios: int
    pass_hat: Interval
    pass_at: Interval


class ScenarioPassK(BaseModel):
    """One scenario's trials and its pass^k / pass@k for k = 1 .. its trials."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    trials: int
    successes: int
    pass_hat: list[float]
    pass_at: list[float]


def scenario_pass_k(outcomes: Sequence[Outcome]) -> list[ScenarioPassK]:
    """Per scenario, in order of first appearance: element k-1 of each list is for k."""
    return [
        ScenarioPassK(
            scenario_id=sid,
            trials=n,
            successes=c,
            pass_hat=[pass_hat_k(n, c, k) for k in range(1, n + 1)],
            pass_at=[pass_at_k(n, c, k) for k in range(1, n + 1)],
        )
        for sid, (n, c) in successes_by_scenario(outcomes).items()
    ]


def successes_by_scenario(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int]]:
    """scenario id -> (trials, successes)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        counts[o.scenario_id][0] += 1
        counts[o.scenario_id][1] += o.correct
    return {sid: (n, c) for sid, (n, c) in counts.items()}


def pass_k_table(
    outcomes: Sequence[Outcome],
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[PassK]:
    """pass^k and pass@k for k = 1 .. the most trials any scenario has, with bootstrap intervals
    over scenarios (each scenario's estimate is one observation)."""
    table = successes_by_scenario(outcomes)
    most = max((n for n, _ in table.values()), default=0)
    rows = []
    for k in range(1, most + 1):
        eligible = [(n, c) for n, c in table.values() if n >= k]
        episodes = sum(n for n, _ in eligible)
        hat = [pass_hat_k(n, c, k) for n, c in eligible]
        at = [pass_at_k(n, c, k) for n, c in eligible]
        rows.append(
            PassK(
                k=k,
                scenarios=len(eligible),
                pass_hat=_mean_over_scenarios(hat, episodes, level, resamples, seed),
                pass_at=_mean_over_scenarios(at, episodes, level, resamples, seed),
            )
        )
    return rows


def _mean_over_scenarios(
    values: list[float], episodes: int, level: float, resamples: int, seed: int
) -> Interval:
    return cluster_bootstrap_ratio(
        np.array(values),
        np.ones(len(values)),
        n=episodes,
        level=level,
        resamples=resamples,
        seed=seed,
    )
