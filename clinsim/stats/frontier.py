"""The accuracy-versus-cost frontier across runs or experiment cells (SDBench's view)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from clinsim.stats.summary import RunSummary


class FrontierPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    run: str
    cost: float
    """Mean cost per episode, USD."""
    accuracy: float
    on_frontier: bool
    """No other run is at least as accurate for at most the cost, and better in one of them."""


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(cost, accuracy) a is no dearer and no less accurate than b, and better in one."""
    return a[0] <= b[0] and a[1] >= b[1] and a != b


def accuracy_cost_frontier(summaries: Sequence[RunSummary]) -> list[FrontierPoint]:
    """Every run as a point, cheapest first; the undominated ones are on the frontier."""
    points = [(s.run, s.cost.estimate, s.accuracy.estimate) for s in summaries]
    ordered = sorted(points, key=lambda p: (p[1], -p[2], p[0]))
    frontier: list[FrontierPoint] = []
    best = float("-inf")
    for run, cost, accuracy in ordered:
        # cheapest first: a point is undominated iff it beats the best accuracy seen so far,
        # or ties a point of exactly the same cost and accuracy
        tie = any(p.on_frontier and (p.cost, p.accuracy) == (cost, accuracy) for p in frontier)
        on = accuracy > best or tie
        best = max(best, accuracy)
        frontier.append(FrontierPoint(run=run, cost=cost, accuracy=accuracy, on_frontier=on))
    return frontier
