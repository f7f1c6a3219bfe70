"""Run statistics checked against independent computations on fixed tables of outcomes."""

from __future__ import annotations

import json
import math
from itertools import combinations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from clinsim.stats import (
    Outcome,
    OutcomeError,
    RunSummary,
    Settings,
    pass_at_k,
    pass_hat_k,
    scenario_pass_k,
    summarize,
    summarize_runs,
)

Z95 = 1.959963984540054


def outcome(
    scenario: str, correct: bool, trial: int = 0, run: str = "a", **extra: object
) -> Outcome:
    fields: dict[str, object] = {
        "run": run,
        "scenario_id": scenario,
        "scenario_set": scenario.split("/")[0],
        "trial": trial,
        "correct": correct,
        "termination": "diagnosed",
        "cost": 0.0,
        "turns": 1,
        "tests": 0,
    }
    fields.update(extra)
    return Outcome.model_validate(fields)


# One trial each: 8 episodes, 5 right; two sets; costs, turns and reasons vary.
ONE_TRIAL = [
    outcome("demo/1", True, cost=100, turns=4, tests=2, tags={"specialty": "cardiology"}),
    outcome("demo/2", True, cost=50, turns=6, tests=1, tags={"specialty": "neurology"}),
    outcome("demo/3", False, cost=0, turns=20, termination="turn_limit"),
    outcome("demo/4", True, cost=250, turns=3, tests=4, tags={"specialty": "cardiology"}),
    outcome("medqa/1", False, cost=20, turns=5, tests=1, tags={"specialty": "neurology"}),
    outcome("medqa/2", True, cost=75, turns=8, tests=2),
    outcome("medqa/3", False, cost=0, turns=2, termination="model_error"),
    outcome("medqa/4", True, cost=30, turns=7, tests=1, tags={"specialty": "cardiology"}),
]

# Three trials of four scenarios (successes 3, 2, 0, 1), plus a scenario tried twice (1 of 2).
TRIALS = {"s/1": [1, 1, 1], "s/2": [1, 0, 1], "s/3": [0, 0, 0], "s/4": [0, 1, 0], "s/5": [1, 0]}
REPEATED = [
    outcome(sid, bool(ok), trial=t, cost=10.0 * t, turns=3 + t)
    for sid, results in TRIALS.items()
    for t, ok in enumerate(results)
]


def wilson_by_formula(c: int, n: int) -> tuple[float, float]:
    p, z2 = c / n, Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def test_one_trial_accuracy_is_wilson_from_the_formula() -> None:
    summary = summarize(ONE_TRIAL)
    low, high = wilson_by_formula(5, 8)
    assert summary.accuracy.method == "wilson"
    assert summary.accuracy.estimate == 5 / 8
    assert summary.accuracy.low == pytest.approx(low, abs=1e-9)
    assert summary.accuracy.high == pytest.approx(high, abs=1e-9)
    assert (summary.episodes, summary.scenarios, summary.trials, summary.correct) == (8, 8, 1, 5)
    assert "Wilson" in summary.accuracy.describe()


def test_means_are_the_plain_means_with_intervals_near_the_t_interval() -> None:
    summary = summarize(ONE_TRIAL, Settings(resamples=20000))
    costs = np.array([o.cost for o in ONE_TRIAL])
    assert summary.cost.estimate == pytest.approx(costs.mean())
    assert summary.turns.estimate == pytest.approx(np.mean([o.turns for o in ONE_TRIAL]))
    assert summary.tests.estimate == pytest.approx(np.mean([o.tests for o in ONE_TRIAL]))
    assert summary.cost.method.startswith("cluster_bootstrap")
    t_low, t_high = scipy_stats.t.interval(
        0.95, len(costs) - 1, loc=costs.mean(), scale=scipy_stats.sem(costs)
    )
    # a bootstrap of 8 skewed values is narrower than t and shifted; same scale, same place
    assert summary.cost.low is not None and summary.cost.high is not None
    width, t_width = summary.cost.high - summary.cost.low, t_high - t_low
    assert 0.5 * t_width < width < 1.2 * t_width
    assert summary.cost.low < costs.mean() < summary.cost.high


def brute_force_pass(trials: dict[str, list[int]], k: int) -> tuple[float, float]:
    """Average over scenarios with >= k trials of: all / any of a k-subset succeed."""
    hats, ats = [], []
    for results in trials.values():
        if len(results) < k:
            continue
        subsets = list(combinations(results, k))
        hats.append(sum(all(s) for s in subsets) / len(subsets))
        ats.append(sum(any(s) for s in subsets) / len(subsets))
    return float(np.mean(hats)), float(np.mean(ats))


def test_pass_k_matches_enumerating_every_subset_of_trials() -> None:
    summary = summarize(REPEATED)
    assert [row.k for row in summary.pass_k] == [1, 2, 3]
    assert [row.scenarios for row in summary.pass_k] == [5, 5, 4]
    for row in summary.pass_k:
        hat, at = brute_force_pass(TRIALS, row.k)
        assert row.pass_hat.estimate == pytest.approx(hat)
        assert row.pass_at.estimate == pytest.approx(at)
    # by hand: pass^3 = (1 + 0 + 0 + 0) / 4; pass^2 = (1 + 1/3 + 0 + 0 + 0) / 5
    assert summary.pass_k[2].pass_hat.estimate == pytest.approx(0.25)
    assert summary.pass_k[1].pass_hat.estimate == pytest.approx((1 + 1 / 3) / 5)


def test_pass_k_per_scenario_matches_enumeration() -> None:
    rows = {r.scenario_id: r for r in scenario_pass_k(REPEATED)}
    assert list(rows) == list(TRIALS)
    for sid, results in TRIALS.items():
        row = rows[sid]
        assert (row.trials, row.successes) == (len(results), sum(results))
        for k in range(1, len(results) + 1):
            hat, at = brute_force_pass({sid: results}, k)
            assert row.pass_hat[k - 1] == pytest.approx(hat)
            assert row.pass_at[k - 1] == pytest.approx(at)


def test_pass_k_estimators_refuse_impossible_counts() -> None:
    assert pass_hat_k(5, 3, 2) == pytest.approx(3 / 10)
    assert pass_at_k(5, 3, 2) == pytest.approx(1 - 1 / 10)
    with pytest.raises(ValueError, match="k=4"):
        pass_hat_k(3, 1, 4)
    with pytest.raises(ValueError, match="successes"):
        pass_at_k(3, 4, 1)


def test_repeated_trials_use_a_bootstrap_over_scenarios() -> None:
    summary = summarize(REPEATED)
    assert summary.accuracy.method == "cluster_bootstrap_bca"
    assert summary.accuracy.clusters == 5 and summary.accuracy.n == 14
    assert summary.accuracy.estimate == pytest.approx(7 / 14)
    assert (summary.trials, summary.balanced) == (3, False)
    assert summary.cost.estimate == pytest.approx(np.mean([o.cost for o in REPEATED]))


def delta_method_se(successes: np.ndarray, trials: np.ndarray) -> float:
    """Cluster-robust standard error of sum(successes) / sum(trials)."""
    p = successes.sum() / trials.sum()
    s = len(trials)
    return float(math.sqrt(s / (s - 1) * np.sum((successes - p * trials) ** 2)) / trials.sum())


def test_cluster_bootstrap_width_matches_the_cluster_robust_standard_error() -> None:
    rng = np.random.default_rng(7)
    rates = rng.uniform(0, 1, size=60)
    table = [
        outcome(f"s/{i}", bool(rng.random() < rate), trial=t)
        for i, rate in enumerate(rates)
        for t in range(4)
    ]
    summary = summarize(table, Settings(resamples=20000))
    successes = np.array(
        [sum(o.correct for o in table if o.scenario_id == f"s/{i}") for i in range(60)]
    )
    se = delta_method_se(successes.astype(float), np.full(60, 4.0))
    assert summary.accuracy.low is not None and summary.accuracy.high is not None
    half = (summary.accuracy.high - summary.accuracy.low) / 2
    assert half == pytest.approx(Z95 * se, rel=0.15)


def test_trials_of_one_scenario_are_not_counted_as_independent_cases() -> None:
    # every scenario all right or all wrong over 5 trials: 30 cases of information, not 150
    table = [outcome(f"s/{i}", i % 3 == 0, trial=t) for i in range(30) for t in range(5)]
    clustered = summarize(table).accuracy
    naive_low, naive_high = wilson_by_formula(50, 150)
    per_case_low, per_case_high = wilson_by_formula(10, 30)
    assert clustered.low is not None and clustered.high is not None
    width = clustered.high - clustered.low
    assert width > 1.8 * (naive_high - naive_low)
    assert width == pytest.approx(per_case_high - per_case_low, rel=0.25)


def test_breakdowns_by_set_reason_and_tag_count_by_hand() -> None:
    summary = summarize(ONE_TRIAL)
    by = {b.by: {g.value: g for g in b.groups} for b in summary.breakdowns}
    assert set(by) == {"set", "termination", "tag:specialty"}
    demo = by["set"]["demo"]
    assert (demo.episodes, demo.accuracy.estimate, demo.share) == (4, 0.75, 0.5)
    assert demo.accuracy.low == pytest.approx(wilson_by_formula(3, 4)[0])
    assert demo.mean_cost == pytest.approx((100 + 50 + 0 + 250) / 4)
    assert by["set"]["medqa"].accuracy.estimate == 0.5
    assert {k: g.episodes for k, g in by["termination"].items()} == {
        "diagnosed": 6,
        "turn_limit": 1,
        "model_error": 1,
    }
    tags = by["tag:specialty"]
    assert (tags["cardiology"].episodes, tags["cardiology"].accuracy.estimate) == (3, 1.0)
    assert (tags["neurology"].episodes, tags["neurology"].accuracy.estimate) == (2, 0.5)
    assert tags["(none)"].episodes == 3
    assert summary.terminations == {"diagnosed": 6, "turn_limit": 1, "model_error": 1}


def test_mean_grade_only_where_every_episode_is_graded() -> None:
    assert summarize(ONE_TRIAL).grade is None
    graded = [
        o.model_copy(update={"grade": g}) for o, g in zip(ONE_TRIAL, [1, 0.5] * 4, strict=True)
    ]
    grade = summarize(graded).grade
    assert grade is not None and grade.estimate == pytest.approx(0.75)


def test_results_round_trip_through_json_and_repeat_with_the_seed() -> None:
    summary = summarize(REPEATED, Settings(seed=3))
    again = RunSummary.model_validate_json(summary.model_dump_json())
    assert again == summary
    assert summarize(REPEATED, Settings(seed=3)) == summary
    data = json.loads(summary.model_dump_json())
    assert data["accuracy"]["method"] == "cluster_bootstrap_bca"
    assert data["pass_k"][0]["pass_hat"]["method"]


def test_one_scenario_gives_no_bootstrap_interval_rather_than_a_false_one() -> None:
    summary = summarize([outcome("s/1", True, trial=t) for t in range(3)])
    assert summary.accuracy.method == "none"
    assert summary.accuracy.low is None
    assert "no interval" in summary.accuracy.describe()


def test_bad_tables_are_clear_errors() -> None:
    with pytest.raises(OutcomeError, match="no episodes"):
        summarize([])
    with pytest.raises(OutcomeError, match="'s/1' trial 0 appears twice"):
        summarize([outcome("s/1", True), outcome("s/1", False)])
    with pytest.raises(OutcomeError, match="one run's episodes"):
        summarize([outcome("s/1", True), outcome("s/1", True, run="b")])
    both = summarize_runs([*ONE_TRIAL, *[o.model_copy(update={"run": "b"}) for o in ONE_TRIAL]])
    assert [s.run for s in both] == ["a", "b"]
