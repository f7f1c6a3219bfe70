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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from clinsim.agents.models.base import ChatModel
from clinsim.agents.models.registry import ModelPool, config_key, is_model_address
from clinsim.agents.models.replay import ReplayConfig, ReplayModel, ReplayThenLive
from clinsim.components import Player, resolve, resolve_doctor
from clinsim.config import Fork, RunConfig, StoredPrompt, StoredRun
from clinsim.environments.actions import Action
from clinsim.environments.encounter import EncounterParts
from clinsim.environments.events import EpisodeStarted, Event, ModelCalled, comparable
from clinsim.environments.graph import Responder
from clinsim.environments.roles import Doctor, DoctorView
from clinsim.environments.run_store import RUN_STORE_FILE, RunStore, StoreError, summarise
from clinsim.runner import EventSink, Runner
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import load_good

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


class RecordedPool(ModelPool):
    """Hands out recorded answers for the addresses the original run used; `live`: after the
    conversation leaves the recording, the address's live model answers."""

    def __init__(self, run_dir: Path, episode: str, recorded: set[str], live: bool):
        super().__init__()
        self.recorded, self.live = recorded, live
        config = ReplayConfig(replay_episode=episode)
        self.replay = ReplayModel(str(run_dir.resolve()), config)
        self._wrapped: dict[tuple[str, str], ChatModel] = {}

    def get(self, address: str, config: BaseModel | None = None) -> ChatModel:
        if address not in self.recorded:
            return super().get(address, config)
        key = (address, config_key(config))
        if key not in self._wrapped:
            live = super().get(address, config) if self.live else None
            self._wrapped[key] = ReplayThenLive(address, self.replay, live)
        return self._wrapped[key]


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
    return {address for address in roles if is_model_address(address)}


def _scenario(config: RunConfig, scenario_id: str) -> Scenario:
    """The stored episode's scenario (other records of its file may be unreadable: the run
    skipped them)."""
    for scenario in load_good(config.sources, config.image_dir)[0]:
        if scenario.id == scenario_id:
            return scenario
    raise StoreError(f"scenario {scenario_id!r} is no longer in {', '.join(config.sources)}")


@dataclass
class Stored:
    config: RunConfig
    scenario: Scenario
    events: list[Event]
    fork: Fork | None
    prompts: dict[str, StoredPrompt] = field(default_factory=dict)
    fork_prompts: dict[str, StoredPrompt] = field(default_factory=dict)
    trial: int = 0


def load_stored(run_dir: Path) -> StoredRun:
    """A run's stored configuration; a clear error for a store another version wrote."""
    raw = RunStore(run_dir).run_info().config
    try:
        return StoredRun.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise StoreError(
            f"{run_dir}: this clinsim cannot read the stored configuration ({where}: "
            f"{problem['msg']}); was the run made by another version?"
        ) from None


def _load(run_dir: Path, episode_id: str) -> Stored:
    stored = load_stored(run_dir)
    original = RunStore(run_dir).events(episode_id)
    started = next((e for e in original if isinstance(e, EpisodeStarted)), None)
    if started is None:
        raise StoreError(f"episode {episode_id!r} has no start event")
    scenario = _scenario(stored.run, started.scenario_id)
    records = [r for r in RunStore(run_dir).episodes() if r.episode_id == episode_id]
    trial = records[0].trial if records else 0
    return Stored(
        stored.run, scenario, original, stored.fork, stored.prompts, stored.fork_prompts, trial
    )


def _prepare(
    runner: Runner, stored: Stored, episode_id: str, fork: Player[Doctor] | None
) -> EncounterParts:
    """The episode's parts, with the doctor handing over at the fork's turn if there is one."""
    events = stored.events
    seed = events[0].seed if events and isinstance(events[0], EpisodeStarted) else 0
    parts = runner.parts(stored.scenario, episode_id, seed)
    if fork is not None and stored.fork is not None:
        new = fork.build(stored.scenario, seed, runner.pool)
        parts.doctor = ForkDoctor(parts.doctor, new, stored.fork.turn)
        parts.agents["doctor"] = fork_doctors(stored.config.doctor, stored.fork)
    return parts


def fork_doctors(original: str, fork: Fork) -> str:
    """Who played the doctor in a fork, by turns."""
    if fork.turn == 1:
        return f"{fork.doctor} from turn 1 (fork of {original})"
    before = "turn 1" if fork.turn == 2 else f"turns 1-{fork.turn - 1}"
    return f"{original} for {before}, then {fork.doctor} from turn {fork.turn}"


async def rerun_episode(run_dir: Path, episode_id: str) -> ReplayResult:
    stored = _load(run_dir, episode_id)
    addresses = _model_addresses(stored.config, stored.fork)
    pool = RecordedPool(run_dir, episode_id, addresses, live=False)
    plan = resolve(stored.config, recorded=stored.prompts)
    runner = Runner(plan, RunStore(run_dir), "rerun", pool=pool)
    try:
        fork = None
        if stored.fork is not None:
            fork = resolve_doctor(stored.fork, recorded=stored.fork_prompts)
        parts = _prepare(runner, stored, episode_id, fork)
        events = await runner.play_parts(parts)
    finally:
        await runner.pool.aclose()
    return ReplayResult(episode_id, stored.events, events, first_difference(stored.events, events))


def fork_name(episode_id: str, turn: int, doctor: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{episode_id}-turn{turn}-{doctor}")
    return safe.strip("_")


@dataclass
class Live:
    """How a fork's new doctor and the live models are played."""

    api_key: str | None = None
    on_event: EventSink | None = None
    respond: Responder | None = None
    """Answers a person playing the new doctor (`human`) at the terminal."""


async def fork_episode(
    run_dir: Path, episode_id: str, fork: Fork, out: Path, live: Live | None = None
) -> ReplayResult:
    """Play the episode again with `fork.doctor` from doctor turn `fork.turn` (1-based) on;
    store it in `out` as a one-episode run whose configuration names the original doctor and
    the fork."""
    live = live or Live()
    if (out / RUN_STORE_FILE).exists():
        raise ValueError(f"{out} already holds a run; choose another --out")
    stored = _load(run_dir, episode_id)
    if stored.fork is not None:
        raise ValueError("this episode is itself a fork: fork the original run instead")
    fork = fork.model_copy(update={"run": str(run_dir), "episode": episode_id})
    stored.fork = fork
    pool = RecordedPool(run_dir, episode_id, _model_addresses(stored.config), live=True)
    plan = resolve(stored.config, live.api_key, recorded=stored.prompts)
    runner = Runner(plan, RunStore(out), out.name, live.on_event, live.respond, pool=pool)
    try:
        doctor = resolve_doctor(fork, live.api_key)  # a bad doctor or template fails here
        parts = _prepare(runner, stored, episode_id, doctor)
        with runner.store.lock():  # one writer per run directory
            runner.store.create(out.name, plan.stored(fork, doctor).model_dump(mode="json"))
            events = await runner.play_parts(parts)
            record = summarise(episode_id, 0, stored.scenario, events, 0.0, stored.trial)
            runner.store.write_episode(out.name, record, events)
    finally:
        await runner.pool.aclose()
    prefix = [e for e in stored.events if e.turn < fork.turn]
    shared = events[: len(prefix)]
    return ReplayResult(episode_id, prefix, shared, first_difference(prefix, shared))
