"""The experiment runner: scenarios in, scored and stored episodes out.

Episodes run concurrently (asyncio, `max_concurrency` at once). Everything reaches the run store
through the run's single writer (`clinsim.environments.store_writer`): each model call as it
returns, each episode as it finishes. An episode played again after an interrupted run answers
its model calls from those its earlier attempt recorded, then goes live. An episode that fails
in any way ends with a recorded reason; the run goes on.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clinsim.agents.models.registry import ModelPool
from clinsim.agents.models.replay import ResumedPool
from clinsim.agents.patients.faults import SimulatorMonitor, withheld_paths
from clinsim.components import Plan
from clinsim.config import RunConfig
from clinsim.environments.encounter import EncounterParts, EncounterSettings
from clinsim.environments.events import (
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ModelCalled,
    append_events,
    comparable,
)
from clinsim.environments.graph import Responder, run_encounter
from clinsim.environments.prices import price_table
from clinsim.environments.run_store import EpisodeRecord, RunStore, StoreError, summarise
from clinsim.environments.store_writer import RunWriter, StoreWriter
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


def freeze_setup() -> None:
    """Call once a process has loaded what it plays from (modules, scenarios, the plan), before
    a long run: those objects live as long as the process, and frozen, the cyclic garbage
    collector stops scanning them again at every full collection (about 1% of a 16-at-once run
    against a model server). For a process that runs and exits, such as the command line: frozen
    objects that become garbage are never freed."""
    gc.collect()
    gc.freeze()


def journal(writer: RunWriter, episode_id: str) -> Callable[[Event], None]:
    """An episode observer that hands each model call to the writer as it returns."""

    def observe(event: Event) -> None:
        if isinstance(event, ModelCalled):
            writer.call_finished(episode_id, event)

    return observe


def with_recorded_calls(events: list[Event], recorded: list[ModelCalled]) -> list[Event]:
    """The events of an episode played again, each call answered from the recording put back as
    it was recorded (its time and latency are those of the call that was paid for)."""
    by_id = {call.call_id: call for call in recorded}
    out: list[Event] = []
    for event in events:
        old = by_id.get(event.call_id) if isinstance(event, ModelCalled) else None
        if old is not None and comparable(old) | {"seq": event.seq} == comparable(event):
            event = old.model_copy(update={"seq": event.seq})
        out.append(event)
    return out


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
    writer: RunWriter | None = None
    """The run's single writer; by default `run` opens a `StoreWriter` on `store` for itself."""

    def __post_init__(self) -> None:
        self.cost_of = price_table(self.config.prices).cost_of
        self.tools = self.plan.build_tools()

    @property
    def config(self) -> RunConfig:
        return self.plan.config

    def parts(
        self, scenario: Scenario, episode_id: str, seed: int, pool: ModelPool | None = None
    ) -> EncounterParts:
        plan, c, models = self.plan, self.config, pool or self.pool
        source = scenario.provenance.source
        ctx = ToolContext(scenario.id, scenario.case, self.resources, source=source)
        return EncounterParts(
            scenario_id=scenario.id,
            episode_id=episode_id,
            case=scenario.case,
            answer=scenario.answer,
            doctor=plan.doctor.build(scenario, seed, models),
            patient=plan.patient.build(scenario, seed, models),
            measurement=plan.measurement.build(scenario, seed, models),
            judges=[judge.build(scenario, seed, models) for judge in plan.judges],
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

    async def play(
        self,
        scenario: Scenario,
        episode_id: str,
        trial: int = 0,
        writer: RunWriter | None = None,
    ) -> list[Event]:
        """Play one episode; with `writer`, journal its model calls and answer those an earlier
        attempt recorded from the recording."""
        seed = episode_seed(self.config.seed, scenario.id, trial)
        recorded = writer.recorded_calls(episode_id) if writer is not None else []
        pool = ResumedPool(self.pool, recorded) if recorded else self.pool
        try:
            parts = self.parts(scenario, episode_id, seed, pool)
        except Exception as exc:  # a role that cannot be built for this scenario
            return self._crashed(scenario.id, seed, exc)
        if writer is not None:
            parts.episode.observer = journal(writer, episode_id)
        events = await self.play_parts(parts)
        return with_recorded_calls(events, recorded) if recorded else events

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
        """Play every scenario not in `skip`; returns the stored episodes' records. Raises
        `StoreError` before playing anything when the store cannot be written."""
        writer = self.writer or StoreWriter(self.store, self.run_id).open()
        semaphore = asyncio.Semaphore(self.config.max_concurrency)
        records: list[EpisodeRecord] = []
        todo = [
            j
            for j in episode_jobs(scenarios, self.config.trials)
            if j.episode_id not in (skip or set())
        ]
        left = len(todo)
        all_played = asyncio.Event()

        async def one(job: EpisodeJob) -> None:
            nonlocal left
            async with semaphore:
                started = time.perf_counter()
                events = await self.play(job.scenario, job.episode_id, job.trial, writer)
                wall = time.perf_counter() - started
            record = summarise(job.episode_id, job.position, job.scenario, events, wall, job.trial)
            left -= 1
            if not left:
                all_played.set()
            if await self._stored(writer, record, events):
                records.append(record)
                if on_done is not None:
                    on_done(record)

        async def finish_writing() -> None:
            """Once every episode is played, give the writer its last chance and stop it."""
            if left:
                await all_played.wait()
            if self.writer is None:
                await asyncio.to_thread(writer.close)

        tasks = [asyncio.ensure_future(one(job)) for job in todo]
        tasks.append(asyncio.ensure_future(finish_writing()))
        try:
            await asyncio.gather(*tasks)
        finally:
            # an episode that failed the run (or a cancelled run) stops the others before their
            # models close: an episode cut short is never stored as one that ended
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.pool.aclose()
            if self.writer is None:
                for episode_id, problem in (await asyncio.to_thread(writer.close)).items():
                    self._not_stored(episode_id, problem)
        return sorted(records, key=lambda r: r.position)

    async def _stored(self, writer: RunWriter, record: EpisodeRecord, events: list[Event]) -> bool:
        try:
            await asyncio.wrap_future(writer.episode_finished(record, events))
        except StoreError as exc:  # a value the store cannot hold, or a store held too long
            self._not_stored(record.episode_id, _first_line(exc))
            return False
        return True

    def _not_stored(self, episode_id: str, problem: str) -> None:
        text = problem.strip().removeprefix(f"{episode_id}: ")
        if not any(line.startswith(f"{episode_id}: ") for line in self.write_errors):
            self.write_errors.append(f"{episode_id}: {text}")
