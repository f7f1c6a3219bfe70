"""Put a report's data together from outcomes: the statistics are computed here, once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from clinsim.report.model import EpisodeTranscript, ImageAsset, ReportData, RunInfo
from clinsim.stats import (
    NoCommonScenarios,
    Outcome,
    OutcomeError,
    Settings,
    accuracy_cost_frontier,
    compare_runs,
    summarize_runs,
)


def varying_settings(runs: Sequence[RunInfo]) -> list[str]:
    """Settings whose values differ between runs (a setting one run lacks counts as None)."""
    keys: list[str] = []
    for run in runs:
        keys += [key for key in run.config if key not in keys]
    return [
        key
        for key in keys
        if len({json.dumps(run.config.get(key), sort_keys=True) for run in runs}) > 1
    ]


def assemble_report(
    runs: Sequence[RunInfo],
    outcomes: Sequence[Outcome],
    transcripts: Sequence[EpisodeTranscript] = (),
    images: Mapping[str, ImageAsset] | None = None,
    *,
    title: str = "clinsim report",
    settings: Settings | None = None,
) -> ReportData:
    """Summaries per run (in `runs` order), the paired comparison of all runs when there are
    two or more, and the accuracy-cost frontier. Runs with no scenario in common are reported
    without a comparison, with a note saying why."""
    labels = [r.run for r in runs]
    present = {o.run for o in outcomes}
    if missing := [label for label in labels if label not in present]:
        raise OutcomeError(f"no episodes for run(s) {', '.join(missing)}")
    if extra := sorted(present - set(labels)):
        raise OutcomeError(f"episodes of run(s) {', '.join(extra)} have no run information")
    by_label = {s.run: s for s in summarize_runs(outcomes, settings)}
    summaries = [by_label[label] for label in labels]
    notes = []
    comparison = None
    if len(labels) >= 2:
        try:
            comparison = compare_runs(outcomes, labels, settings)
        except NoCommonScenarios as exc:
            notes.append(f"No paired comparison: {exc}")
    return ReportData(
        title=title,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        runs=list(runs),
        summaries=summaries,
        comparison=comparison,
        frontier=accuracy_cost_frontier(summaries) if len(summaries) >= 2 else [],
        varying=varying_settings(runs),
        outcomes=list(outcomes),
        transcripts=list(transcripts),
        images=dict(images or {}),
        notes=notes,
    )
