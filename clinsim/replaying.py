"""Re-execute a stored episode from its recorded model calls, or fork it at a turn.

Rerun: every model role is answered by the `replay` backend from the stored calls (offline
roles simply run again, they are deterministic); the new event stream is compared with the
stored one, wall-clock fields and model addresses aside.

Fork: turns before TURN replay the original doctor's recorded calls; from TURN on a new doctor
plays. The other model roles replay their recorded calls for as long as the conversation is the
same, then call their live model. The fork shares the original's prefix by construction; the
comparison says so or shows where it does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from clinsim.agents.models.base import ChatModel, ChatRequest, ChatResponse
from clinsim.agents.models.registry import ModelPool, is_model_provider, split_address
from clinsim.agents.models.replay import ReplayDiverged, ReplayModel
from clinsim.agents.registry import make_agent
from clinsim.environments.actions import Action
from clinsim.environments.encounter import EncounterParts
from clinsim.environments.events import EpisodeStarted, Event, ModelCalled, comparable
from clinsim.environments.roles import Doctor, DoctorView
from clinsim.environments.run_store import RUN_STORE_FILE, RunStore, StoreError, summarise
from clinsim.runner import RunConfig, Runner
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_scenarios

IGNORED: dict[type[BaseModel], set[str]] = {ModelCalled: {"model"}, EpisodeStarted: {"agents"}}
"""Fields that name where an answer came from rather than what happened."""


def _key(event: Event) -> dict[str, Any]:
    data = comparable(event)
    for name in IGNORED.get(type(event), ()):
        data.pop(name, None)
    return data


def first_difference(old: list[Event], new: list[Event]) -> int | None:
    """Index of the first differing event, None when the streams are the same."""
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if _key(a) != _key(b):
            return index
    return None if len(old) == len(new) else min(len(old), len(new))


class ReplayThenLive:
    """Answers from the recording while the conversation matches it, then from the live model."""

    def __init__(self, replay: ChatModel, live: ModelPool | None, address: str):
        self.replay, self.live_pool, self.address = replay, live, address
        self.diverged = False

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if not self.diverged:
            try:
                return await self.replay.chat(request)
            except ReplayDiverged:
                if self.live_pool is None:
                    raise
                self.diverged = True
        assert self.live_pool is not None
        return await self.live_pool.get(self.address).chat(request)


class RecordedPool(ModelPool):
    """Hands out recorded answers for the addresses the original run used."""

    def __init__(
        self, base: ModelPool, run_dir: Path, episode: str, recorded: set[str], live: bool
    ):
        super().__init__(base.settings)
        self.base, self.recorded, self.live = base, recorded, live
        settings = base.settings.model_copy(update={"replay_episode": episode})
        self.replay = ReplayModel(str(run_dir.resolve()), settings)
        self._wrapped: dict[str, ChatModel] = {}

    async def aclose(self) -> None:
        await self.base.aclose()

    def get(self, address: str) -> ChatModel:
        if address not in self.recorded:
            return self.base.get(address)
        if address not in self._wrapped:
            live = self.base if self.live else None
            self._wrapped[address] = ReplayThenLive(self.replay, live, address)
        return self._wrapped[address]


class ForkDoctor:
    def __init__(self, original: Doctor, new: Doctor, turn: int):
        self.original, self.new, self.turn = original, new, turn

    async def act(self, view: DoctorView) -> Action:
        # view.turn counts finished turns: turn N (1-based) is played when view.turn == N - 1
        doctor = self.original if view.turn + 1 < self.turn else self.new
        return await doctor.act(view)


@dataclass
class ReplayResult:
    episode_id: str
    original: list[Event]
    events: list[Event]
    difference: int | None

    @property
    def identical(self) -> bool:
        return self.difference is None


def _model_addresses(config: RunConfig, fork: Fork | None = None) -> set[str]:
    roles = [config.doctor, config.patient, config.measurement, *config.judges]
    if fork is not None:
        roles.append(fork.doctor)
    return {a for a in roles if is_model_provider(split_address(a)[0])}


def _scenario(config: RunConfig, scenario_id: str) -> Scenario:
    for scenario in load_scenarios(config.sources, config.tools.image_dir):
        if scenario.id == scenario_id:
            return scenario
    raise StoreError(f"scenario {scenario_id!r} is no longer in {', '.join(config.sources)}")


@dataclass
class Fork:
    """Stored with a fork's run config: who took over the doctor's role, and when."""

    doctor: str
    turn: int
    run: str = ""
    episode: str = ""


@dataclass
class Stored:
    config: RunConfig
    scenario: Scenario
    events: list[Event]
    fork: Fork | None


def _load(run_dir: Path, episode_id: str) -> Stored:
    store = RunStore(run_dir)
    raw = store.run_info().config
    config = RunConfig.model_validate(raw)
    fork = Fork(**raw["forked_from"]) if raw.get("forked_from") else None
    original = store.events(episode_id)
    started = next((e for e in original if isinstance(e, EpisodeStarted)), None)
    if started is None:
        raise StoreError(f"episode {episode_id!r} has no start event")
    return Stored(config, _scenario(config, started.scenario_id), original, fork)


def _prepare(runner: Runner, stored: Stored, episode_id: str, fork: Fork | None) -> EncounterParts:
    """The episode's parts, with the doctor handing over at the fork's turn if there is one."""
    events = stored.events
    seed = events[0].seed if events and isinstance(events[0], EpisodeStarted) else 0
    parts = runner.parts(stored.scenario, episode_id, seed)
    if fork is not None:
        new = make_agent(
            "doctor",
            fork.doctor,
            stored.scenario,
            seed,
            stored.config.options,
            runner.pool,
            runner.resources,
        )
        parts.doctor = ForkDoctor(parts.doctor, new, fork.turn)
        parts.agents["doctor"] = (
            f"{stored.config.doctor} until turn {fork.turn - 1}, then {fork.doctor}"
        )
    return parts


async def rerun_episode(run_dir: Path, episode_id: str) -> ReplayResult:
    stored = _load(run_dir, episode_id)
    runner = Runner(stored.config, RunStore(run_dir), "rerun")
    addresses = _model_addresses(stored.config, stored.fork)
    runner.pool = RecordedPool(runner.pool, run_dir, episode_id, addresses, False)
    try:
        parts = _prepare(runner, stored, episode_id, stored.fork)
        events = await runner.play_parts(parts)
    finally:
        await runner.pool.aclose()
    return ReplayResult(episode_id, stored.events, events, first_difference(stored.events, events))


def fork_name(episode_id: str, turn: int, doctor: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{episode_id}-turn{turn}-{doctor}")
    return safe.strip("_")


async def fork_episode(
    run_dir: Path, episode_id: str, turn: int, doctor: str, out: Path
) -> ReplayResult:
    """Play the episode again with `doctor` from doctor turn `turn` (1-based) on; store it in
    `out` as a one-episode run whose config names the original doctor and the fork."""
    if turn < 1:
        raise ValueError("--fork-at counts doctor turns from 1")
    if doctor == "human":
        raise ValueError("a fork is played without a terminal: use a model or offline doctor")
    if (out / RUN_STORE_FILE).exists():
        raise ValueError(f"{out} already holds a run; choose another --out")
    stored = _load(run_dir, episode_id)
    if stored.fork is not None:
        raise ValueError("this episode is itself a fork: fork the original run instead")
    fork = Fork(doctor=doctor, turn=turn, run=str(run_dir), episode=episode_id)
    runner = Runner(stored.config, RunStore(out), out.name)
    runner.pool = RecordedPool(
        runner.pool, run_dir, episode_id, _model_addresses(stored.config), True
    )
    try:
        parts = _prepare(runner, stored, episode_id, fork)  # a bad --doctor fails here
        runner.store.create(
            out.name, {**stored.config.model_dump(mode="json"), "forked_from": vars(fork)}
        )
        events = await runner.play_parts(parts)
    finally:
        await runner.pool.aclose()
    record = summarise(episode_id, 0, stored.scenario, events, 0.0)
    runner.store.write_episode(out.name, record, events)
    prefix = [e for e in stored.events if e.turn < turn]
    shared = events[: len(prefix)]
    return ReplayResult(episode_id, prefix, shared, first_difference(prefix, shared))
