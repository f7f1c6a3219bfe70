"""Paired comparisons and the frontier, against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinsim.stats import (
    Comparison,
    NoCommonScenarios,
    Outcome,
    OutcomeError,
    Settings,
    accuracy_cost_frontier,
    compare_runs,
    summarize,
    summarize_runs,
)
from clinsim.stats.compare import mcnemar_exact
from clinsim.stats.frontier import dominates

Z95 = 1.959963984540054


def episode(run: str, scenario: str, correct: bool, trial: int = 0, **extra: object) -> Outcome:
    fields: dict[str, object] = {
        "run": run,
        "scenario_id": scenario,
        "scenario_set": "demo",
        "trial": trial,
        "correct": correct,
        "termination": "diagnosed",
        "cost": 0.0,
        "turns": 1,
        "tests": 0,
        "reference": f"ref {scenario}",
        "diagnosis": f"{run} says {'right' if correct else 'wrong'} for {scenario}",
        "episode_id": f"{run}:{scenario}:{trial}",
    }
    fields.update(extra)
    return Outcome.model_validate(fields)


# A right on 1-8, B right on 1-3 and 9-10: A alone right on 4-8 (5), B alone on 9-10 (2).
A_RIGHT = set(range(1, 9))
B_RIGHT = {1, 2, 3, 9, 10}
TABLE = [
    *(episode("A", f"demo/{i}", i in A_RIGHT, cost=10.0 * i, turns=i) for i in range(1, 13)),
    *(episode("B", f"demo/{i}", i in B_RIGHT, cost=5.0 * i, turns=2) for i in range(1, 13)),
    episode("B", "demo/99", True),  # B ran a scenario A did not
]


def binomial_two_sided(b: int, c: int) -> float:
    """Exact McNemar by summing the binomial(b + c, 1/2) tail."""
    n, low = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_two_runs_paired_difference_mcnemar_and_discordant_cases() -> None:
    result = compare_runs(TABLE)
    assert result.runs == ["A", "B"] and result.correction is None
    (pair,) = result.pairs
    assert (pair.pairs, pair.scenarios, pair.unpaired_a, pair.unpaired_b) == (12, 12, 0, 1)
    assert pair.accuracy_a == pytest.approx(8 / 12)
    assert pair.accuracy_b == pytest.approx(5 / 12)
    assert pair.accuracy_difference.estimate == pytest.approx(3 / 12)
    assert pair.mcnemar_p == pytest.approx(binomial_two_sided(5, 2))
    assert pair.mcnemar_p == pytest.approx(0.453125)  # 2 * (1 + 7 + 21) / 128
    assert [d.scenario_id for d in pair.a_right_b_wrong] == [f"demo/{i}" for i in (4, 5, 6, 7, 8)]
    assert [d.scenario_id for d in pair.b_right_a_wrong] == ["demo/9", "demo/10"]
    first = pair.a_right_b_wrong[0]
    assert (first.diagnosis_a, first.diagnosis_b) == (
        "A says right for demo/4",
        "B says wrong for demo/4",
    )
    assert (first.reference, first.episode_a, first.episode_b) == (
        "ref demo/4",
        "A:demo/4:0",
        "B:demo/4:0",
    )
    assert pair.cost_difference.estimate == pytest.approx(np.mean([5.0 * i for i in range(1, 13)]))
    assert pair.turns_difference.estimate == pytest.approx(np.mean([i - 2 for i in range(1, 13)]))


def test_paired_interval_matches_the_standard_error_of_the_differences() -> None:
    rng = np.random.default_rng(11)
    table = []
    for i in range(200):
        base = rng.random()
        table.append(episode("A", f"s/{i}", bool(base < 0.6)))
        table.append(
            episode("B", f"s/{i}", bool(rng.random() < 0.4 if base >= 0.6 else base < 0.5))
        )
    pair = compare_runs(table, settings=Settings(resamples=20000)).pairs[0]
    d = np.array(
        [int(a.correct) - int(b.correct) for a, b in zip(table[0::2], table[1::2], strict=True)]
    )
    se = d.std(ddof=1) / math.sqrt(len(d))
    interval = pair.accuracy_difference
    assert interval.low is not None and interval.high is not None
    assert interval.estimate == pytest.approx(d.mean())
    assert (interval.high - interval.low) / 2 == pytest.approx(Z95 * se, rel=0.12)


def test_three_runs_are_compared_pairwise_with_holm_correction() -> None:
    c_right = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
    table = [*TABLE, *(episode("C", f"demo/{i}", i in c_right) for i in range(1, 13))]
    result = compare_runs(table)
    assert result.correction == "holm"
    assert [(p.run_a, p.run_b) for p in result.pairs] == [("A", "B"), ("A", "C"), ("B", "C")]
    raw = [p.mcnemar_p for p in result.pairs]
    assert raw == pytest.approx(
        [binomial_two_sided(5, 2), binomial_two_sided(0, 3), binomial_two_sided(0, 6)]
    )
    # Holm by hand: sort, multiply the i-th smallest by (m - i), keep the running maximum, cap at 1
    order = sorted(range(3), key=lambda i: raw[i])
    holm, running = [0.0] * 3, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    assert [p.mcnemar_p_holm for p in result.pairs] == pytest.approx(holm)


def test_trials_pair_by_scenario_and_trial_and_say_so() -> None:
    a = [episode("A", f"s/{i}", bool((i + t) % 2), trial=t) for i in range(6) for t in range(3)]
    b = [episode("B", f"s/{i}", bool(i % 2), trial=t) for i in range(6) for t in range(2)]
    pair = compare_runs([*a, *b]).pairs[0]
    assert (pair.pairs, pair.scenarios, pair.unpaired_a, pair.unpaired_b) == (12, 6, 6, 0)
    assert pair.accuracy_difference.clusters == 6
    assert pair.notes and "independent" in pair.notes[0]


def test_runs_with_no_scenario_in_common_are_refused_clearly() -> None:
    table = [episode("A", "demo/1", True), episode("B", "medqa/1", True, scenario_set="medqa")]
    with pytest.raises(NoCommonScenarios, match="runs 'A' and 'B' have no scenario"):
        compare_runs(table)
    with pytest.raises(OutcomeError, match="two or more distinct runs"):
        compare_runs(TABLE, runs=["A"])
    with pytest.raises(OutcomeError, match="no episodes for run"):
        compare_runs(TABLE, runs=["A", "Z"])


def test_comparison_round_trips_through_json() -> None:
    result = compare_runs(TABLE)
    assert Comparison.model_validate_json(result.model_dump_json()) == result


@given(st.integers(0, 40), st.integers(0, 40))
def test_mcnemar_is_the_binomial_tail_and_symmetric(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(binomial_two_sided(b, c))
    assert mcnemar_exact(b, c) == pytest.approx(mcnemar_exact(c, b))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=30))
def test_swapping_runs_negates_the_difference(results: list[tuple[bool, bool]]) -> None:
    table = [
        o
        for i, (x, y) in enumerate(results)
        for o in (episode("A", f"s/{i}", x), episode("B", f"s/{i}", y))
    ]
    ab = compare_runs(table, runs=["A", "B"], settings=Settings(resamples=200)).pairs[0]
    ba = compare_runs(table, runs=["B", "A"], settings=Settings(resamples=200)).pairs[0]
    assert ab.accuracy_difference.estimate == pytest.approx(-ba.accuracy_difference.estimate)
    assert len(ab.a_right_b_wrong) == len(ba.b_right_a_wrong)
    assert ab.mcnemar_p == pytest.approx(ba.mcnemar_p)


def test_frontier_on_a_budget_grid() -> None:
    # budget cells: more budget buys accuracy until it does not
    cells = {
        "b50": (40.0, 0.30),
        "b100": (80.0, 0.45),
        "b200": (150.0, 0.45),
        "b400": (260.0, 0.50),
    }
    table = []
    for cell, (cost, acc) in cells.items():
        right = round(acc * 20)
        table += [episode(cell, f"s/{i}", i < right, cost=cost) for i in range(20)]
    points = {p.run: p for p in accuracy_cost_frontier(summarize_runs(table))}
    assert [p for p in points] == ["b50", "b100", "b200", "b400"]
    assert {run for run, p in points.items() if p.on_frontier} == {"b50", "b100", "b400"}
    assert points["b100"].cost == pytest.approx(80.0) and points["b100"].accuracy == pytest.approx(
        0.45
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4)), min_size=1, max_size=8))
def test_frontier_points_are_exactly_the_undominated_ones(cells: list[tuple[int, int]]) -> None:
    table = []
    for c, (cost, right) in enumerate(cells):
        table += [episode(f"c{c}", f"s/{i}", i < right, cost=float(cost)) for i in range(4)]
    summaries = [
        summarize(table[4 * c : 4 * c + 4], Settings(resamples=100)) for c in range(len(cells))
    ]
    points = accuracy_cost_frontier(summaries)
    xy = {p.run: (p.cost, p.accuracy) for p in points}
    for p in points:
        undominated = not any(dominates(other, xy[p.run]) for other in xy.values())
        assert p.on_frontier == undominated
    assert [p.cost for p in points] == sorted(p.cost for p in points)
