"""Confidence intervals that name their method: Wilson, and bootstraps over scenarios.

SciPy loads only when a bootstrap runs: summarising a run of one scenario (what
`clinsim run --limit 1` prints) needs neither SciPy nor statsmodels.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

IntervalMethod = Literal[
    "wilson",
    "cluster_bootstrap_bca",
    "cluster_bootstrap_percentile",
    "none",
]

METHOD_NAMES: dict[str, str] = {
    "wilson": "Wilson score",
    "cluster_bootstrap_bca": "bootstrap over scenarios, BCa",
    "cluster_bootstrap_percentile": "bootstrap over scenarios, percentile",
    "none": "no interval",
}

DEFAULT_RESAMPLES = 2000


class Interval(BaseModel):
    """An estimate with its confidence interval and how the interval was made."""

    model_config = ConfigDict(frozen=True)

    estimate: float
    low: float | None = Field(description="None when no interval can be made (one scenario).")
    high: float | None
    level: float = 0.95
    method: IntervalMethod
    n: int = Field(description="Episodes (or pairs) behind the estimate.")
    clusters: int | None = Field(default=None, description="Scenarios resampled, if bootstrap.")
    resamples: int | None = None

    def describe(self, digits: int = 3, percent: bool = False) -> str:
        """'0.625 [0.306, 0.863] 95% Wilson score' (or percentages)."""

        def fmt(x: float) -> str:
            return f"{x:.{max(digits - 2, 0)}%}" if percent else f"{x:.{digits}f}"

        if self.low is None or self.high is None:
            return f"{fmt(self.estimate)} (no interval: {self.clusters or 0} scenario)"
        return (
            f"{fmt(self.estimate)} [{fmt(self.low)}, {fmt(self.high)}] "
            f"{self.level:.0%} {METHOD_NAMES[self.method]}"
        )


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a proportion of independent episodes (one trial each)."""
    if n <= 0:
        raise ValueError("a proportion needs at least one episode")
    estimate = successes / n
    z = NormalDist().inv_cdf(0.5 + level / 2)
    centre = (estimate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(estimate * (1 - estimate) / n + z * z / (4 * n * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return Interval(  # rounding can leave 1 - 1e-16 above 34 of 34: the bounds hold the estimate
        estimate=estimate,
        low=min(float(low), estimate),
        high=max(float(high), estimate),
        level=level,
        method="wilson",
        n=n,
    )


def _ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64], axis: int) -> object:
    return numerator.sum(axis=axis) / denominator.sum(axis=axis)


def cluster_bootstrap_ratio(
    numerators: NDArray[np.float64],
    denominators: NDArray[np.float64],
    *,
    n: int,
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Interval for sum(numerators) / sum(denominators), resampling whole clusters (scenarios).

    One cluster per scenario: its numerator is the sum over its trials (successes, dollars, turns),
    its denominator the number of trials. Resampling scenarios rather than episodes keeps repeated
    trials of one scenario from counting as independent cases. BCa where it is defined; percentile
    where BCa is not (every scenario alike); no interval for a single scenario.
    """
    numerators = np.asarray(numerators, dtype=float)
    denominators = np.asarray(denominators, dtype=float)
    estimate = float(numerators.sum() / denominators.sum())
    clusters = len(numerators)
    common = {"estimate": estimate, "level": level, "n": n, "clusters": clusters}
    if clusters < 2:
        return Interval(low=None, high=None, method="none", **common)
    from scipy import stats

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa gives NaN; we fall back below
            result = stats.bootstrap(
                (numerators, denominators),
                _ratio,
                paired=True,
                vectorized=True,
                n_resamples=resamples,
                confidence_level=level,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return Interval(
                low=min(float(low), estimate),
                high=max(float(high), estimate),
                method="cluster_bootstrap_bca"
                if method == "BCa"
                else "cluster_bootstrap_percentile",
                resamples=resamples,
                **common,
            )
    return Interval(low=estimate, high=estimate, method="cluster_bootstrap_percentile", **common)
