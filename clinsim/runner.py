"""The experiment runner: scenarios in, scored and stored episodes out.

Episodes run concurrently (asyncio, `max_concurrency` at once); each one is written to the
run store as soon as it finishes. An episode that fails in any way ends with a recorded
reason; the run goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clinsim.agents.models.registry import ModelPool
from clinsim.agents.patients.faults import SimulatorMonitor, withheld_paths
from clinsim.components import Plan
from clinsim.config import RunConfig
from clinsim.environments.encounter import EncounterParts, EncounterSettings
from clinsim.environments.events import EpisodeEnded, EpisodeStarted, Event, append_events
from clinsim.environments.graph import Responder, run_encounter
from clinsim.environments.prices import price_table
from clinsim.environments.run_store import EpisodeRecord, RunStore, summarise
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import Scenario
from clinsim.tools.base import ToolContext
from clinsim.tools.toolbox import ToolBox

EventSink = Callable[[str, Event], None]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


TRIAL_MARK = "@"
"""Episode ids of repeated trials: `demo/0001` is trial 0, `demo/0001@2` trial 2."""


def episode_seed(run_seed: int, scenario_id: str, trial: int = 0) -> int:
    """A stable per-episode seed: same run seed, scenario and trial, same episode. Trial 0 keeps
    the seed runs had before trials existed."""
    key = f"{run_seed}:{scenario_id}" + (f":{trial}" if trial else "")
    digest = hashlib.sha256(key.encode()).hexdigest()
    return int(digest[:8], 16)


def new_run_id() -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def episode_ids(scenarios: list[Scenario]) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for scenario in scenarios:
        seen[scenario.id] = seen.get(scenario.id, 0) + 1
        n = seen[scenario.id]
        ids.append(scenario.id if n == 1 else f"{scenario.id}#{n}")
    return ids


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to play: a scenario, which trial of it, its id and its place in the run."""

    position: int
    scenario: Scenario
    trial: int
    episode_id: str


def episode_jobs(scenarios: list[Scenario], trials: int = 1) -> list[EpisodeJob]:
    """Every scenario `trials` times: all first trials, then all second trials, ... (an
    interrupted run has whole rounds); positions order the run by scenario, then trial."""
    return [
        EpisodeJob(
            position=index * trials + trial,
            scenario=scenario,
            trial=trial,
            episode_id=base if trial == 0 else f"{base}{TRIAL_MARK}{trial}",
        )
        for trial in range(trials)
        for index, (scenario, base) in enumerate(
            zip(scenarios, episode_ids(scenarios), strict=True)
        )
    ]


def _withheld(scenario: Scenario) -> frozenset[str]:
    """Fact paths no patient may say (they name the diagnosis): the fault checks skip them."""
    key = scenario.answer
    return withheld_paths(scenario.case.patient, [key.diagnosis, *key.synonyms])


@dataclass
class Runner:
    plan: Plan
    store: RunStore
    run_id: str
    on_event: EventSink | None = None
    respond: Responder | None = None
    """Answers roles played by a person (`human`); see clinsim.cli.terminal."""
    pool: ModelPool = field(default_factory=ModelPool)
    resources: dict[str, Any] = field(default_factory=dict)
    """Shared by the run's tools across episodes (opened image models, EHR views)."""
    write_errors: list[str] = field(default_factory=list)
    """Episodes that finished but could not be stored (the run goes on; the CLI reports them)."""

    def __post_init__(self) -> None:
        self.cost_of = price_table(self.config.prices).cost_of
        self.tools = self.plan.build_tools()

    @property
    def config(self) -> RunConfig:
        return self.plan.config

    def parts(self, scenario: Scenario, episode_id: str, seed: int) -> EncounterParts:
        plan, c = self.plan, self.config
        source = scenario.provenance.source
        ctx = ToolContext(scenario.id, scenario.case, self.resources, source=source)
        return EncounterParts(
            scenario_id=scenario.id,
            episode_id=episode_id,
            case=scenario.case,
            answer=scenario.answer,
            doctor=plan.doctor.build(scenario, seed, self.pool),
            patient=plan.patient.build(scenario, seed, self.pool),
            measurement=plan.measurement.build(scenario, seed, self.pool),
            judges=[judge.build(scenario, seed, self.pool) for judge in plan.judges],
            tools=ToolBox(ctx, self.tools),
            cost_of=self.cost_of,
            seed=seed,
            settings=EncounterSettings(c.max_turns, c.budget, c.images_upfront, c.presentation),
            agents={
                "doctor": c.doctor,
                "patient": c.patient,
                "measurement": c.measurement,
                "judge": ",".join(c.judges),
            },
            monitor=SimulatorMonitor(scenario.case, _withheld(scenario)),
        )

    async def play(self, scenario: Scenario, episode_id: str, trial: int = 0) -> list[Event]:
        seed = episode_seed(self.config.seed, scenario.id, trial)
        try:
            parts = self.parts(scenario, episode_id, seed)
        except Exception as exc:  # a role that cannot be built for this scenario
            return self._crashed(scenario.id, seed, exc)
        return await self.play_parts(parts)

    async def play_parts(self, parts: EncounterParts) -> list[Event]:
        """Run one prepared episode; any failure becomes a recorded ending."""
        sink = None
        if self.on_event is not None:
            callback, episode_id = self.on_event, parts.episode_id

            def sink(event: Event) -> None:
                callback(episode_id, event)

        try:
            return await run_encounter(parts, on_event=sink, respond=self.respond)
        except Exception as exc:  # a bug or a broken plugin: record it, keep the run going
            return self._crashed(parts.scenario_id, parts.seed, exc)

    def _crashed(self, scenario_id: str, seed: int, exc: Exception) -> list[Event]:
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        return append_events(
            [],
            [
                EpisodeStarted(scenario_id=scenario_id, seed=seed, max_turns=self.config.max_turns),
                EpisodeEnded(reason=TerminationReason.INTERNAL_ERROR, detail=detail),
            ],
        )

    async def run(
        self,
        scenarios: list[Scenario],
        skip: set[str] | None = None,
        on_done: Callable[[EpisodeRecord], None] | None = None,
    ) -> list[EpisodeRecord]:
        semaphore = asyncio.Semaphore(self.config.max_concurrency)
        writing = asyncio.Lock()  # one writer at a time; writes run off the event loop
        records: list[EpisodeRecord] = []

        async def one(job: EpisodeJob) -> None:
            async with semaphore:
                started = time.perf_counter()
                events = await self.play(job.scenario, job.episode_id, job.trial)
                wall = time.perf_counter() - started
            record = summarise(job.episode_id, job.position, job.scenario, events, wall, job.trial)
            async with writing:
                try:
                    await asyncio.to_thread(self.store.write_episode, self.run_id, record, events)
                except Exception as exc:  # a locked store, or a value it cannot hold
                    self.write_errors.append(f"{job.episode_id}: {_first_line(exc)}")
                    return
            records.append(record)
            if on_done is not None:
                on_done(record)

        jobs = [
            one(job)
            for job in episode_jobs(scenarios, self.config.trials)
            if job.episode_id not in (skip or set())
        ]
        try:
            await asyncio.gather(*jobs)
        finally:
            await self.pool.aclose()
        return sorted(records, key=lambda r: r.position)
