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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from clinsim.agents.models.base import ModelSettings
from clinsim.agents.models.registry import ModelPool
from clinsim.agents.patients.faults import SimulatorMonitor, withheld_paths
from clinsim.agents.registry import AgentOptions, make_agent
from clinsim.environments.ehr.demo import default_ehr_for
from clinsim.environments.encounter import DEFAULT_MAX_TURNS, EncounterParts, EncounterSettings
from clinsim.environments.events import EpisodeEnded, EpisodeStarted, Event, append_events
from clinsim.environments.graph import Responder, run_encounter
from clinsim.environments.prices import run_price_table
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import Scenario
from clinsim.store import EpisodeRecord, RunStore
from clinsim.tools.base import ToolContext, ToolSettings
from clinsim.tools.toolbox import ToolBox

EventSink = Callable[[str, Event], None]


class RunConfig(BaseModel):
    sources: list[str] = Field(default_factory=lambda: ["demo"])
    doctor: str = "baseline"
    patient: str = "facts"
    measurement: str = "lookup"
    judges: list[str] = Field(default_factory=lambda: ["rules"])
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1)
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_concurrency: int = Field(default=1, ge=1)
    images_upfront: bool = False
    prices: Path | None = None
    options: AgentOptions = Field(default_factory=AgentOptions)
    models: ModelSettings = Field(default_factory=ModelSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def episode_seed(run_seed: int, scenario_id: str) -> int:
    """A stable per-episode seed: same run seed and scenario, same episode."""
    digest = hashlib.sha256(f"{run_seed}:{scenario_id}".encode()).hexdigest()
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


def _withheld(scenario: Scenario) -> frozenset[str]:
    """Fact paths no patient may say (they name the diagnosis): the fault checks skip them."""
    key = scenario.answer
    return withheld_paths(scenario.case.patient, [key.diagnosis, *key.synonyms])


def summarise(
    episode_id: str, position: int, scenario: Scenario, events: list[Event], wall_s: float
) -> EpisodeRecord:
    ended = next((e for e in reversed(events) if e.kind == "episode_ended"), None)
    submitted = next((e for e in events if e.kind == "diagnosis_submitted"), None)
    verdict = next((e for e in events if e.kind == "diagnosis_judged"), None)
    started = next((e for e in events if e.kind == "episode_started"), None)
    return EpisodeRecord(
        episode_id=episode_id,
        position=position,
        scenario_id=scenario.id,
        reference=scenario.answer.diagnosis,
        termination=str(ended.reason) if ended else str(TerminationReason.INTERNAL_ERROR),
        detail=ended.detail if ended else "no end event",
        diagnosis=submitted.diagnosis if submitted else None,
        correct=bool(verdict.match) if verdict else False,
        judge=verdict.judge if verdict else "",
        verdict_reason=verdict.reason if verdict else "",
        turns=max((e.turn for e in events), default=0),
        tests=sum(1 for e in events if e.kind == "test_ordered"),
        tool_calls=sum(1 for e in events if e.kind == "tool_called"),
        cost=sum(e.cost for e in events if e.kind == "test_ordered"),
        wall_s=wall_s,
        seed=started.seed if started else 0,
    )


@dataclass
class Runner:
    config: RunConfig
    store: RunStore
    run_id: str
    on_event: EventSink | None = None
    respond: Responder | None = None
    """Answers roles played by a person (`human`); see clinsim.cli.terminal."""
    pool: ModelPool = field(init=False)
    resources: dict[str, Any] = field(default_factory=dict)
    write_errors: list[str] = field(default_factory=list)
    """Episodes that finished but could not be stored (the run goes on; the CLI reports them)."""

    def __post_init__(self) -> None:
        self.pool = ModelPool(self.config.models)
        self.cost_of = run_price_table(self.config.prices, self.resources).cost_of

    def parts(self, scenario: Scenario, episode_id: str, seed: int) -> EncounterParts:
        c = self.config

        def agent(role: Any, address: str) -> Any:
            return make_agent(
                role, address, scenario, episode_id, seed, c.options, self.pool, self.resources
            )

        settings = c.tools
        if settings.ehr_db is None and scenario.case.ehr is not None:
            settings = settings.model_copy(update={"ehr_db": default_ehr_for(scenario)})
        ctx = ToolContext(scenario.id, scenario.case, settings, self.resources)
        return EncounterParts(
            scenario_id=scenario.id,
            episode_id=episode_id,
            case=scenario.case,
            answer=scenario.answer,
            doctor=agent("doctor", c.doctor),
            patient=agent("patient", c.patient),
            measurement=agent("measurement", c.measurement),
            judges=[agent("judge", j) for j in c.judges],
            tools=ToolBox(ctx),
            cost_of=self.cost_of,
            seed=seed,
            settings=EncounterSettings(c.max_turns, c.budget, c.images_upfront),
            agents={
                "doctor": c.doctor,
                "patient": c.patient,
                "measurement": c.measurement,
                "judge": ",".join(c.judges),
            },
            monitor=SimulatorMonitor(scenario.case, _withheld(scenario)),
        )

    async def play(self, scenario: Scenario, episode_id: str) -> list[Event]:
        seed = episode_seed(self.config.seed, scenario.id)
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

        async def one(position: int, scenario: Scenario, episode_id: str) -> None:
            async with semaphore:
                started = time.perf_counter()
                events = await self.play(scenario, episode_id)
                wall = time.perf_counter() - started
            record = summarise(episode_id, position, scenario, events, wall)
            async with writing:
                try:
                    await asyncio.to_thread(self.store.write_episode, self.run_id, record, events)
                except Exception as exc:  # a locked store, or a value it cannot hold
                    self.write_errors.append(f"{episode_id}: {_first_line(exc)}")
                    return
            records.append(record)
            if on_done is not None:
                on_done(record)

        ids = episode_ids(scenarios)
        jobs = [
            one(i, s, eid)
            for i, (s, eid) in enumerate(zip(scenarios, ids, strict=True))
            if eid not in (skip or set())
        ]
        try:
            await asyncio.gather(*jobs)
        finally:
            await self.pool.aclose()
        return sorted(records, key=lambda r: r.position)
