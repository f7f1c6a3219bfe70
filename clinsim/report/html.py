"""`render_report(data) -> str`: one self-contained HTML file (styles, scripts, charts, data).

Nothing in the page refers outside it: charts are SVG data: URIs, images data: URIs (or
paths the caller chose), and a content security policy forbids any fetch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from pydantic import BaseModel, JsonValue

from clinsim.report.charts import figures
from clinsim.report.model import ReportData, RunInfo
from clinsim.stats import Breakdown, Interval, Outcome, RunSummary
from clinsim.stats.intervals import METHOD_NAMES

MAX_TEXT_CHARS = 20_000

METHOD_ABBREVIATIONS = {
    "wilson": "W",
    "cluster_bootstrap_bca": "B",
    "cluster_bootstrap_percentile": "P",
    "none": "-",
}


def _asset(name: str) -> str:
    return (resources.files("clinsim.report") / "assets" / name).read_text(encoding="utf-8")


def render_report(data: ReportData, max_text_chars: int = MAX_TEXT_CHARS) -> str:
    """The whole report as one HTML document."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_asset("report.html.j2"))
    summaries = [_summary_view(s) for s in data.summaries]
    outcomes = data.outcomes
    return template.render(
        title=data.title,
        generated=data.generated,
        runs=data.runs,
        episode_count=len(outcomes),
        config_rows=(rows := _config_rows(data.runs)),
        any_differs=any(r["differs"] for r in rows),
        summaries=summaries,
        pass_ks=sorted({k for s in summaries for k in s["pass_k_by"] if k > 1}),
        methods=_methods_used(data),
        notes=data.notes,
        figures=figures(data),
        breakdowns=_breakdown_views(data.summaries),
        comparison=data.comparison,
        sets=sorted({o.scenario_set for o in outcomes}),
        reasons=sorted({o.termination for o in outcomes}),
        ci_cell=ci_cell,
        pct=lambda x: f"{x:.1%}",
        pval=_pval,
        css=_asset("report.css"),
        js=_asset("report.js"),
        payload=payload_json(data, max_text_chars),
    )


def ci_cell(interval: Interval, percent: bool = False, count: int | None = None) -> Markup:
    """A table cell: estimate, interval and the method's letter (its name on hover)."""

    def fmt(x: float) -> str:
        return f"{x:.1%}" if percent else f"{x:,.2f}"

    bounds = (
        f"[{fmt(interval.low)}, {fmt(interval.high)}]"
        if interval.low is not None and interval.high is not None
        else "(no interval)"
    )
    extra = Markup("<small>n={}</small>").format(count) if count is not None else ""
    return Markup(
        '<td class="num ci"><span class="est">{}</span> <span class="range">{}</span> '
        '<abbr class="method" title="{}">{}</abbr>{}</td>'
    ).format(
        fmt(interval.estimate),
        bounds,
        METHOD_NAMES[interval.method],
        METHOD_ABBREVIATIONS[interval.method],
        extra,
    )


def _pval(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _summary_view(s: RunSummary) -> dict[str, Any]:
    return {**dict(s), "pass_k_by": {row.k: row.pass_hat for row in s.pass_k}}


def _config_rows(runs: Sequence[RunInfo]) -> list[dict[str, Any]]:
    keys: list[str] = []
    for run in runs:
        keys += [k for k in run.config if k not in keys]
    rows = []
    for key in keys:
        values = [_show(run.config.get(key)) for run in runs]
        rows.append({"key": key, "cells": values, "differs": len(set(values)) > 1})
    return rows


def _show(value: JsonValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _methods_used(data: ReportData) -> list[tuple[str, str]]:
    """Every interval method the report shows, for the legend."""
    used = {i.method for i in _intervals([*data.summaries, data.comparison])}
    return [(METHOD_ABBREVIATIONS[m], METHOD_NAMES[m]) for m in METHOD_NAMES if m in used]


def _intervals(value: object) -> Iterator[Interval]:
    if isinstance(value, Interval):
        yield value
    elif isinstance(value, BaseModel):
        for _, field in value:
            yield from _intervals(field)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _intervals(item)


def _breakdown_views(summaries: Sequence[RunSummary]) -> list[dict[str, Any]]:
    dims: dict[str, list[Breakdown | None]] = {}
    for i, s in enumerate(summaries):
        for b in s.breakdowns:
            dims.setdefault(b.by, [None] * len(summaries))[i] = b
    views = []
    for by, per_run in dims.items():
        values: list[str] = []
        for maybe in per_run:
            values += [g.value for g in (maybe.groups if maybe else []) if g.value not in values]
        rows = []
        for value in values:
            cells = []
            for maybe in per_run:
                groups = maybe.groups if maybe else []
                group = next((g for g in groups if g.value == value), None)
                cells.append(
                    {"accuracy": group.accuracy, "count": group.episodes} if group else None
                )
            rows.append({"value": value, "cells": cells})
        title = {"set": "scenario set", "termination": "how it ended"}.get(
            by, by.removeprefix("tag:")
        )
        views.append({"title": title, "rows": rows})
    return views


def payload_json(data: ReportData, max_text_chars: int = MAX_TEXT_CHARS) -> str:
    """The episode table and transcripts as compact JSON, safe inside a <script> element."""
    runs = [r.run for r in data.runs]
    run_index = {run: i for i, run in enumerate(runs)}
    payload = {
        "runs": runs,
        "rows": [_table_row(o, run_index[o.run]) for o in data.outcomes],
        "transcripts": _transcripts(data, max_text_chars),
        "images": {k: v.model_dump() for k, v in data.images.items()},
    }
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _table_row(o: Outcome, run: int) -> list[Any]:
    """One episode as report.js reads it (the order of its COL table)."""
    return [
        run,
        o.scenario_id,
        o.trial,
        o.scenario_set,
        o.diagnosis,
        o.reference,
        o.correct,
        o.termination,
        o.turns,
        o.tests,
        round(o.cost, 2),
        o.tags or None,
        o.grade,
    ]


def _transcripts(data: ReportData, max_text_chars: int) -> dict[str, list[list[Any]]]:
    """Transcripts keyed by their episode's row; one with no row in the table is left out."""
    row_of = {
        (o.run, o.episode_id): i for i, o in enumerate(data.outcomes) if o.episode_id is not None
    }
    transcripts: dict[str, list[list[Any]]] = {}
    for t in data.transcripts:
        row = row_of.get((t.run, t.episode_id))
        if row is None:
            continue
        transcripts[str(row)] = [
            [
                e.turn,
                e.actor,
                e.kind,
                _cut(e.text, max_text_chars),
                _cut_json(e.data, max_text_chars) or None,
                e.images or None,
            ]
            for e in t.entries
        ]
    return transcripts


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters not shown)"


def _cut_json(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return _cut(value, limit)
    if isinstance(value, list):
        return [_cut_json(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _cut_json(v, limit) for k, v in value.items()}
    return value
