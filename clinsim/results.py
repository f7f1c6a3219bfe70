"""A stored run's results as the statistics see them: one `Outcome` row per episode.

The store gives each episode's record (`EpisodeRecord`); the scenarios the run played give the
set and the tags results are broken down by:

    audit      `flagged` when `clinsim scenarios audit` flags the scenario, else `clean`
    modality   the first image's modality, for cases with images
    KEY        VALUE of every `KEY:VALUE` tag of the case (`specialty:cardiology`)

A run whose scenario files are gone is still summarised, without tags, with a note saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clinsim.config import StoredRun
from clinsim.environments.events import ToolCalled
from clinsim.environments.run_store import EpisodeRecord, RunInfo, RunStore, StoreError
from clinsim.scenarios.audit import audit_scenario
from clinsim.scenarios.errors import ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_scenarios
from clinsim.stats import Outcome

TAG_SEPARATOR = ":"


@dataclass
class RunResults:
    """One stored run: its configuration, episode records, outcome rows and scenarios."""

    label: str
    run_dir: Path
    info: RunInfo
    stored: StoredRun
    records: list[EpisodeRecord]
    outcomes: list[Outcome]
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def scenario_tags(scenario: Scenario) -> dict[str, str]:
    """The tags a run is broken down by (see the module docstring)."""
    tags = {"audit": "flagged" if audit_scenario(scenario) else "clean"}
    modalities = [image.modality for image in scenario.case.images if image.modality]
    if modalities:
        tags["modality"] = modalities[0]
    for tag in scenario.case.tags:
        key, sep, value = tag.partition(TAG_SEPARATOR)
        if sep and key.strip() and value.strip():
            tags[key.strip()] = value.strip()
    return tags


def run_scenarios(stored: StoredRun) -> tuple[dict[str, Scenario], list[str]]:
    """The scenarios a run played, by id; a note instead when its sources cannot be loaded."""
    config = stored.run
    try:
        found = load_scenarios(config.sources, config.image_dir)
    except (ScenarioLoadError, UnknownScenarioSet, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.encode("utf-8", "backslashreplace").decode("utf-8")  # e.g. a lone surrogate
        return {}, [f"scenarios not loaded ({first}): no tags, sets from the episode ids"]
    return {scenario.id: scenario for scenario in found}, []


def outcome_of(
    label: str,
    record: EpisodeRecord,
    scenario: Scenario | None,
    tags: dict[str, str] | None = None,
    tools: Counter[str] | None = None,
) -> Outcome:
    """One episode's row; the set is the record's, else the scenario's, else the id's prefix."""
    scenario_set = record.scenario_set or (
        scenario.provenance.source if scenario else record.scenario_id.rpartition("/")[0]
    )
    return Outcome(
        run=label,
        scenario_id=record.scenario_id,
        scenario_set=scenario_set or "(none)",
        trial=record.trial,
        correct=record.correct,
        termination=record.termination,
        cost=record.cost,
        turns=record.turns,
        tests=record.tests,
        tool_calls=record.tool_calls,
        tools=dict(tools or {}),
        diagnosis=record.diagnosis,
        reference=record.reference,
        episode_id=record.episode_id,
        tags=tags or {},
    )


def outcomes_of(
    label: str,
    records: Sequence[EpisodeRecord],
    scenarios: dict[str, Scenario],
    tools: dict[str, Counter[str]],
) -> list[Outcome]:
    """Every record's row, tags computed once per scenario (not once per trial)."""
    tags: dict[str, dict[str, str]] = {}
    outcomes = []
    for record in records:
        scenario = scenarios.get(record.scenario_id)
        if scenario is not None and record.scenario_id not in tags:
            tags[record.scenario_id] = scenario_tags(scenario)
        found = tags.get(record.scenario_id)
        outcomes.append(outcome_of(label, record, scenario, found, tools.get(record.episode_id)))
    return outcomes


def tool_counts(store: RunStore) -> dict[str, Counter[str]]:
    """Calls per tool name, per episode."""
    return {
        episode: Counter(e.tool for e in events if isinstance(e, ToolCalled))
        for episode, events in store.events_of(ToolCalled).items()
    }


def load_results(run_dir: Path, label: str | None = None) -> RunResults:
    """A stored run read whole; `label` names it in tables (default: its run id)."""
    from clinsim.replaying import load_stored

    store = RunStore(run_dir)
    info = store.run_info()
    stored = load_stored(run_dir)
    records = store.episodes()
    scenarios, notes = run_scenarios(stored)
    name = label or info.run_id
    outcomes = outcomes_of(name, records, scenarios, tool_counts(store))
    return RunResults(name, run_dir, info, stored, records, outcomes, scenarios, notes)


def load_runs(run_dirs: Sequence[Path]) -> list[RunResults]:
    """Several runs to compare or report together: each labelled by its run id, or by its
    directory where two share an id; the same directory twice is an error."""
    resolved = [d.resolve() for d in run_dirs]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise StoreError(f"{run_dirs[index]} is given twice")
    runs = [load_results(d) for d in run_dirs]
    ids = Counter(r.label for r in runs)
    for r in runs:
        if ids[r.label] > 1:
            r.label = str(r.run_dir)
            r.outcomes = [o.model_copy(update={"run": r.label}) for o in r.outcomes]
    return runs
