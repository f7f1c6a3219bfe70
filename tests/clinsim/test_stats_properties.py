"""Properties of the run statistics that hold for any table of outcomes."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from clinsim.stats import Outcome, Settings, summarize
from clinsim.stats.intervals import wilson_interval

trial_lists = st.lists(st.lists(st.booleans(), min_size=1, max_size=5), min_size=1, max_size=12)


def table(results: list[list[bool]]) -> list[Outcome]:
    return [
        Outcome(
            run="r",
            scenario_id=f"s/{i}",
            scenario_set="s",
            trial=t,
            correct=ok,
            termination="diagnosed",
            cost=float(t),
            turns=t,
            tests=0,
        )
        for i, trials in enumerate(results)
        for t, ok in enumerate(trials)
    ]


@settings(max_examples=40, deadline=None)
@given(trial_lists)
def test_pass_hat_falls_and_pass_at_rises_with_k(results: list[list[bool]]) -> None:
    summary = summarize(table(results), Settings(resamples=100))
    rows = summary.pass_k
    assert abs(rows[0].pass_hat.estimate - rows[0].pass_at.estimate) < 1e-12
    balanced = len({len(r) for r in results}) == 1
    if balanced:
        assert abs(rows[0].pass_hat.estimate - summary.accuracy.estimate) < 1e-12
        for a, b in pairwise(rows):
            assert b.pass_hat.estimate <= a.pass_hat.estimate + 1e-12
            assert b.pass_at.estimate >= a.pass_at.estimate - 1e-12
    for row in rows:
        assert 0 <= row.pass_hat.estimate <= row.pass_at.estimate + 1e-12 <= 1 + 1e-12


@settings(max_examples=40, deadline=None)
@given(trial_lists)
def test_every_interval_holds_its_estimate_and_names_a_method(results: list[list[bool]]) -> None:
    summary = summarize(table(results), Settings(resamples=100))
    for interval in (
        summary.accuracy,
        summary.cost,
        summary.turns,
        *(r.pass_hat for r in summary.pass_k),
    ):
        assert interval.method
        if interval.low is not None and interval.high is not None:
            assert interval.low - 1e-9 <= interval.estimate <= interval.high + 1e-9
    assert 0 <= (summary.accuracy.low or 0) <= (summary.accuracy.high or 1) <= 1


@settings(deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_stays_in_the_unit_interval(counts: tuple[int, int]) -> None:
    c, n = counts
    w = wilson_interval(c, n)
    assert w.low is not None and w.high is not None
    assert 0 <= w.low <= c / n <= w.high <= 1


@settings(deadline=None)
@given(
    st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_agrees_with_statsmodels(counts: tuple[int, int], level: float) -> None:
    c, n = counts
    low, high = proportion_confint(c, n, alpha=1 - level, method="wilson")
    w = wilson_interval(c, n, level)
    assert w.low == pytest.approx(min(float(low), c / n), abs=1e-12)
    assert w.high == pytest.approx(max(float(high), c / n), abs=1e-12)
