"""The report's charts: Vega-Lite specifications (altair) rendered to SVG by vl-convert."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import vl_convert

from clinsim.report.model import ReportData
from clinsim.stats import Outcome, RunSummary

WIDTH = 520
ROW = 22


@dataclass(frozen=True)
class Figure:
    """One chart, ready for an <img>: an SVG data: URI and a description of what it shows."""

    key: str
    title: str
    src: str
    alt: str


def figures(data: ReportData) -> list[Figure]:
    """Every chart the data supports, in reading order."""
    makers = [
        ("accuracy", "Accuracy by run (95% interval)", accuracy_chart(data.summaries)),
        ("frontier", "Accuracy against mean cost", frontier_chart(data)),
        ("pass_k", "pass^k by k (95% interval)", pass_k_chart(data.summaries)),
        ("termination", "How episodes ended", termination_chart(data.summaries)),
        ("turns", "Turns per episode", distribution_chart(data.outcomes, "turns")),
        ("tests", "Tests per episode", distribution_chart(data.outcomes, "tests")),
        ("tools", "Tool calls per episode, by tool", tool_chart(data.outcomes)),
    ]
    return [
        Figure(key, title, to_svg_uri(chart), title)
        for key, title, chart in makers
        if chart is not None
    ]


def to_svg_uri(spec: Spec) -> str:
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    svg = vl_convert.vegalite_to_svg(spec, vl_version=f"{major}.{minor}")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


Spec = dict[str, Any]
"""A Vega-Lite specification."""


def _values(rows: Sequence[dict[str, Any]]) -> alt.InlineData:
    return alt.InlineData(values=list(rows))


def _spec(chart: Any) -> Spec:
    spec: Spec = chart.to_dict()
    return spec


def accuracy_chart(summaries: Sequence[RunSummary]) -> Spec:
    rows = [
        {
            "run": s.run,
            "accuracy": s.accuracy.estimate,
            "low": s.accuracy.low if s.accuracy.low is not None else s.accuracy.estimate,
            "high": s.accuracy.high if s.accuracy.high is not None else s.accuracy.estimate,
        }
        for s in summaries
    ]
    base = alt.Chart(_values(rows)).encode(
        y=alt.Y("run:N", sort=None, title=None, axis=alt.Axis(labelLimit=260))
    )
    scale = alt.Scale(domain=[0, 1])
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", scale=scale, title="accuracy", axis=alt.Axis(format="%")),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=70).encode(x=alt.X("accuracy:Q", scale=scale))
    labels = base.mark_text(dx=8, align="left", baseline="bottom", dy=-3).encode(
        x="accuracy:Q", text=alt.Text("accuracy:Q", format=".1%")
    )
    return _spec((bars + points + labels).properties(width=WIDTH, height=ROW * len(rows) + 10))


def frontier_chart(data: ReportData) -> Spec | None:
    """Only when the runs' budgets differ (a budget grid): SDBench's accuracy-cost view."""
    points = data.frontier
    if len(points) < 2 or "budget" not in data.varying:
        return None
    intervals = {s.run: s.accuracy for s in data.summaries}
    rows = [
        {
            "run": p.run,
            "cost": p.cost,
            "accuracy": p.accuracy,
            "low": intervals[p.run].low if intervals[p.run].low is not None else p.accuracy,
            "high": intervals[p.run].high if intervals[p.run].high is not None else p.accuracy,
            "frontier": "on the frontier" if p.on_frontier else "dominated",
        }
        for p in points
    ]
    base = alt.Chart(_values(rows)).encode(
        x=alt.X("cost:Q", title="mean cost per episode (USD)"),
    )
    y = alt.Y(
        "accuracy:Q", title="accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)
    )
    line = (
        base.transform_filter(alt.datum.frontier == "on the frontier")
        .mark_line(strokeDash=[4, 3], color="#888")
        .encode(y=y)
    )
    bars = base.mark_rule(color="#999").encode(y=alt.Y("low:Q"), y2="high:Q")
    dots = base.mark_point(filled=True, size=80).encode(
        y=y, color=alt.Color("frontier:N", title=None, legend=alt.Legend(orient="bottom"))
    )
    labels = base.mark_text(dx=7, align="left").encode(y=y, text="run:N")
    return _spec((bars + line + dots + labels).properties(width=WIDTH, height=260))


def pass_k_chart(summaries: Sequence[RunSummary]) -> Spec | None:
    """Only when some run has repeated trials."""
    if max(s.trials for s in summaries) < 2:
        return None
    rows = [
        {
            "run": s.run,
            "k": row.k,
            "pass^k": row.pass_hat.estimate,
            "low": row.pass_hat.low if row.pass_hat.low is not None else row.pass_hat.estimate,
            "high": row.pass_hat.high if row.pass_hat.high is not None else row.pass_hat.estimate,
        }
        for s in summaries
        for row in s.pass_k
    ]
    base = alt.Chart(_values(rows)).encode(
        x=alt.X("k:O", title="k (trials that must all succeed)", axis=alt.Axis(labelAngle=0)),
        color=alt.Color("run:N", legend=alt.Legend(orient="bottom", labelLimit=260)),
        xOffset="run:N",
    )
    y = alt.Y("pass^k:Q", title="pass^k", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    layers = base.mark_rule().encode(
        y=alt.Y("low:Q", title="pass^k"), y2="high:Q"
    ) + base.mark_point(filled=True).encode(y=y)
    return _spec(layers.properties(width=WIDTH, height=220))


def termination_chart(summaries: Sequence[RunSummary]) -> Spec:
    rows = [
        {"run": s.run, "reason": reason, "share": count / s.episodes, "episodes": count}
        for s in summaries
        for reason, count in s.terminations.items()
    ]
    return _spec(
        alt.Chart(_values(rows))
        .mark_bar()
        .encode(
            y=alt.Y("run:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X(
                "share:Q",
                stack="zero",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1], clamp=True),
                title="share of episodes",
            ),
            color=alt.Color("reason:N", legend=alt.Legend(orient="bottom", columns=4)),
        )
        .properties(width=WIDTH, height=ROW * len(summaries) + 10)
    )


def distribution_chart(outcomes: Sequence[Outcome], field: str) -> Spec:
    """Share of each run's episodes at each value (values above 30 binned together)."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for o in outcomes:
        counts[o.run][min(int(getattr(o, field)), 30)] += 1
    rows = [
        {"run": run, field: value, "share": n / sum(c.values())}
        for run, c in counts.items()
        for value, n in sorted(c.items())
    ]
    return _spec(
        alt.Chart(_values(rows))
        .mark_bar()
        .encode(
            x=alt.X(f"{field}:O", title=f"{field} (30 = 30 or more)", axis=alt.Axis(labelAngle=0)),
            xOffset="run:N",
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of episodes"),
            color=alt.Color("run:N", legend=alt.Legend(orient="bottom", labelLimit=260)),
        )
        .properties(width=WIDTH, height=180)
    )


def tool_chart(outcomes: Sequence[Outcome]) -> Spec | None:
    """Mean calls per episode of each tool, per run; none when no tool was called."""
    episodes: Counter[str] = Counter(o.run for o in outcomes)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    for o in outcomes:
        for tool, n in o.tools.items():
            calls[(o.run, tool)] += n
    if not calls:
        return None
    rows = [
        {"run": run, "tool": tool, "calls": n / episodes[run]} for (run, tool), n in calls.items()
    ]
    tools = len({tool for _, tool in calls})
    return _spec(
        alt.Chart(_values(rows))
        .mark_bar()
        .encode(
            y=alt.Y("tool:N", title=None),
            yOffset="run:N",
            x=alt.X("calls:Q", title="mean calls per episode"),
            color=alt.Color("run:N", legend=alt.Legend(orient="bottom", labelLimit=260)),
        )
        .properties(width=WIDTH, height=max(60, ROW * tools * min(len(episodes), 3)))
    )
