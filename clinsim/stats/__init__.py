"""Research statistics over tables of episode outcomes: small pure functions, typed results.

summarize(outcomes)            one run: accuracy, means, pass^k, breakdowns, with intervals
compare_runs(outcomes)         paired comparison of two or more runs
accuracy_cost_frontier(...)    which runs no other beats on both accuracy and cost
"""

from clinsim.stats.compare import (
    Comparison,
    Discordant,
    NoCommonScenarios,
    PairedComparison,
    compare_runs,
)
from clinsim.stats.frontier import FrontierPoint, accuracy_cost_frontier
from clinsim.stats.intervals import Interval
from clinsim.stats.outcomes import Outcome, OutcomeError
from clinsim.stats.passk import PassK, ScenarioPassK, pass_at_k, pass_hat_k, scenario_pass_k
from clinsim.stats.summary import Breakdown, Group, RunSummary, Settings, summarize, summarize_runs

__all__ = [
    "Breakdown",
    "Comparison",
    "Discordant",
    "FrontierPoint",
    "Group",
    "Interval",
    "NoCommonScenarios",
    "Outcome",
    "OutcomeError",
    "PairedComparison",
    "PassK",
    "RunSummary",
    "ScenarioPassK",
    "Settings",
    "accuracy_cost_frontier",
    "compare_runs",
    "pass_at_k",
    "pass_hat_k",
    "scenario_pass_k",
    "summarize",
    "summarize_runs",
]
