"""Terminal tables of research figures: a run's summary with intervals, its breakdowns, a paired
comparison of runs. Every interval is shown with its method; the table's caption names them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from rich import box
from rich.table import Table
from rich.text import Text

from clinsim.environments.events import GRADES
from clinsim.stats import (
    Breakdown,
    Comparison,
    Discordant,
    Interval,
    PairedComparison,
    RunSummary,
)
from clinsim.stats.intervals import METHOD_NAMES

SHORT_METHODS = {
    "wilson": "Wilson",
    "cluster_bootstrap_bca": "BCa",
    "cluster_bootstrap_percentile": "pct",
    "none": "-",
}
BREAKDOWN_TITLES = {"set": "scenario set", "termination": "how it ended"}


def fmt(value: float, percent: bool = False, digits: int = 2) -> str:
    return f"{value:.1%}" if percent else f"{value:,.{digits}f}"


def bounds(interval: Interval, percent: bool = False, digits: int = 2) -> str:
    if interval.low is None or interval.high is None:
        return "(one scenario)"
    low, high = fmt(interval.low, percent, digits), fmt(interval.high, percent, digits)
    return f"[{low}, {high}]"


def methods_caption(intervals: Iterable[Interval]) -> str:
    """What each method named in a table means, for its caption."""
    used = {i.method for i in intervals if i.method != "none"}
    names = [f"{SHORT_METHODS[m]}: {METHOD_NAMES[m]}" for m in METHOD_NAMES if m in used]
    text = "95% intervals. " + "; ".join(names) + "." if names else "No intervals."
    if used - {"wilson"}:
        text += " A bootstrap resamples scenarios with all their trials."
    return text


def _figure_table(title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("method")
    return table


def _row(
    table: Table, name: str, interval: Interval, value: str, percent: bool, digits: int = 1
) -> None:
    table.add_row(name, value, bounds(interval, percent, digits), SHORT_METHODS[interval.method])


def grades_line(grades: Counter[str]) -> Text:
    """How the deciding verdicts were graded ('judge grades: exact 6, wrong 2')."""
    order = [g for g in GRADES if g in grades]
    return Text("judge grades: " + ", ".join(f"{g} {grades[g]}" for g in order))


def summary_figures(summary: RunSummary, title: str = "Summary") -> Table:
    """Accuracy, pass^k and pass@k (k = 1..K, with repeated trials), and mean cost, turns,
    tests and tool calls, each with its interval and method."""
    s = summary
    table = _figure_table(title)
    table.add_row("episodes", str(s.episodes), "", "")
    trials = f"{s.scenarios} × {s.trials}" + ("" if s.balanced else " (at most)")
    table.add_row("scenarios × trials", trials, "", "")
    accuracy = f"{fmt(s.accuracy.estimate, True)} ({s.correct}/{s.episodes})"
    _row(table, "accuracy", s.accuracy, accuracy, True)
    if s.trials > 1:
        for row in s.pass_k:
            _row(table, f"pass^{row.k}", row.pass_hat, fmt(row.pass_hat.estimate, True), True)
        for row in s.pass_k[1:]:
            _row(table, f"pass@{row.k}", row.pass_at, fmt(row.pass_at.estimate, True), True)
    for name, interval in (
        ("mean cost (USD)", s.cost),
        ("mean turns", s.turns),
        ("mean tests", s.tests),
        ("mean tool calls", s.tool_calls),
    ):
        _row(table, name, interval, fmt(interval.estimate, digits=1), False)
    intervals = [s.accuracy, s.cost, s.turns, s.tests, s.tool_calls]
    intervals += [i for row in s.pass_k for i in (row.pass_hat, row.pass_at)]
    table.caption = methods_caption(intervals)
    return table


def breakdown_table(breakdown: Breakdown) -> Table:
    title = BREAKDOWN_TITLES.get(breakdown.by, breakdown.by.removeprefix("tag:"))
    table = Table(title=f"By {title}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(title, overflow="fold", ratio=1)
    for name in ("episodes", "accuracy", "95% interval", "method"):
        table.add_column(name, justify="left" if name == "method" else "right", no_wrap=True)
    for g in breakdown.groups:
        table.add_row(
            Text(g.value),
            str(g.episodes),
            fmt(g.accuracy.estimate, True),
            bounds(g.accuracy, True),
            SHORT_METHODS[g.accuracy.method],
        )
    return table


def breakdown_tables(summary: RunSummary, only: Collection[str] | None = None) -> list[Table]:
    """Termination always; sets and tags where the run has more than one value. `only`: these
    breakdowns ('set', 'termination', 'tag:NAME')."""
    return [
        breakdown_table(b)
        for b in summary.breakdowns
        if (only is None or b.by in only) and (b.by == "termination" or len(b.groups) > 1)
    ]


def comparison_tables(
    comparison: Comparison, title: str = "", names: dict[str, str] | None = None
) -> list[Table]:
    """One table per pair of runs (A - B): the paired accuracy difference with its interval,
    McNemar's exact p (and Holm's, with more than two runs), the cost and turn differences.
    `names`: shorter names for the runs' labels in the titles."""
    corrected = comparison.correction is not None
    return [pair_table(p, corrected, title, names or {}) for p in comparison.pairs]


def pair_table(
    p: PairedComparison, corrected: bool, title: str = "", names: dict[str, str] | None = None
) -> Table:
    names = names or {}
    a, b = names.get(p.run_a, p.run_a), names.get(p.run_b, p.run_b)
    heading = f"{title}: " if title else ""
    table = _figure_table(f"{heading}A = {a}, B = {b}")
    table.add_row("pairs (scenario, trial)", str(p.pairs), f"{p.scenarios} scenarios", "")
    table.add_row("could not be paired", f"{p.unpaired_a} of A, {p.unpaired_b} of B", "", "")
    table.add_row(
        "accuracy A / B", f"{fmt(p.accuracy_a, True)} / {fmt(p.accuracy_b, True)}", "", ""
    )
    _row(table, "A - B", p.accuracy_difference, fmt(p.accuracy_difference.estimate, True), True)
    table.add_row("McNemar p (exact)", pvalue(p.mcnemar_p), "", "")
    if corrected:
        table.add_row("Holm-corrected p", pvalue(p.mcnemar_p_holm), "", "")
    for name, interval in (
        ("cost A - B (USD)", p.cost_difference),
        ("turns A - B", p.turns_difference),
    ):
        _row(table, name, interval, f"{interval.estimate:+,.1f}", False)
    right = f"{len(p.a_right_b_wrong)} / {len(p.b_right_a_wrong)}"
    table.add_row("right in A only / in B only", right, "", "")
    caption = methods_caption(_pair_intervals(p)) + " McNemar: exact, two-sided."
    if corrected:
        caption += " Holm: across every pair of runs compared."
    table.caption = caption
    return table


def _pair_intervals(p: PairedComparison) -> list[Interval]:
    return [p.accuracy_difference, p.cost_difference, p.turns_difference]


def pvalue(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def discordant_table(pair: PairedComparison) -> Table:
    """The scenarios (trials) one run got right and the other wrong, with both diagnoses."""
    table = Table(
        title=f"Discordant: {pair.run_a} vs {pair.run_b}", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("right", no_wrap=True)
    table.add_column("scenario", no_wrap=True)
    table.add_column("trial", justify="right")
    table.add_column("reference / A said / B said", ratio=1, overflow="fold")
    cases: list[tuple[str, Discordant]] = [
        *(("A", d) for d in pair.a_right_b_wrong),
        *(("B", d) for d in pair.b_right_a_wrong),
    ]
    for right, d in cases:
        names = Text(d.reference)
        names.append(f"\nA: {d.diagnosis_a or '-'}", style="green" if right == "A" else "red")
        names.append(f"\nB: {d.diagnosis_b or '-'}", style="green" if right == "B" else "red")
        table.add_row(right, Text(d.scenario_id), str(d.trial), names)
    return table
