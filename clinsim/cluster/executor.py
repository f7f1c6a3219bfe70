"""`--executor ray[:ADDRESS]`: a run's episodes played by players on a Ray cluster.

The process that runs `clinsim run` or `clinsim experiment run` (the driver) stays the only
writer of the run store. For each run (or cell) it

- puts the scenarios in Ray's object store once, and the bundled demo EHR when the run reads it
  (`clinsim.cluster.shipping`);
- starts the replicas of the run's in-process models (`clinsim.cluster.replicas`), and players:
  asynchronous actors, one per CPU of the cluster (at most one per episode in flight), spread
  over the nodes, each playing many episodes at once;
- hands out episodes, never more than `max_concurrency` in flight across the whole cluster (the
  run's concurrency, as with the local executor; so an endpoint shared by every player sees at
  most that many requests), each to the least busy player;
- receives each model call as it returns and each finished episode, and stores them as they
  come, so `clinsim show` reads the run while it plays and `--resume` completes it.

A player that dies (its process killed, its node lost) is restarted by Ray; the episodes it was
playing are handed to another player, with the model calls they had already made, which the new
attempt answers from the recording instead of calling the model again. An episode whose players
die `MAX_ATTEMPTS` times is not stored, and said so (`--resume` plays it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import SecretStr

from clinsim.agents.models.base import ChatModel
from clinsim.agents.models.registry import ModelPool
from clinsim.cluster.connect import ClusterError, connect, import_ray
from clinsim.cluster.player import (
    CallReturned,
    EpisodeOrder,
    EpisodePlayed,
    EpisodePlayer,
    PlayerSetup,
)
from clinsim.cluster.replicas import (
    IN_PROCESS,
    ModelKey,
    ModelReplica,
    ReplicaModel,
    in_process_models,
    replica_count,
)
from clinsim.cluster.shipping import Shipment, demo_ehr_bytes, needs_demo_ehr
from clinsim.components import Plan, Player
from clinsim.environments.factories import split_address
from clinsim.environments.run_store import EpisodeRecord, StoreError, summarise
from clinsim.environments.store_writer import RunWriter, StoreWriter
from clinsim.experiment.execute import CellResult, RunTask
from clinsim.experiment.spec import ExperimentError
from clinsim.prompting import stored_prompts
from clinsim.runner import EpisodeJob, episode_jobs

__all__ = ["MAX_ATTEMPTS", "ClusterError", "RayExecutor"]

MAX_ATTEMPTS = 3
"""Players an episode may lose before it is given up (and left for `--resume`)."""
PLAYER_RESTARTS = 8
"""How many lost players are replaced, and replicas restarted, per run."""


class RayExecutor:
    """Plays runs on a Ray cluster (see the module's notes)."""

    name = "ray"

    def __init__(self, address: str):
        import_ray()  # without Ray: say how to install it, before anything else
        self.address = address
        self.ray: Any = None

    def open(self) -> None:
        try:
            self.ray = connect(self.address)
        except ClusterError as exc:
            raise ExperimentError(str(exc)) from None

    def check_pool(self) -> ModelPool:
        """A pool for checking roles before the run that loads no in-process model here."""
        return UnloadedPool()

    def run_cell(self, task: RunTask, on_done: Callable[[EpisodeRecord], None]) -> CellResult:
        if self.ray is None:
            self.open()
        try:
            return asyncio.run(CellRun(self.ray, task, on_done).run())
        except ClusterError as exc:
            raise ExperimentError(str(exc)) from None

    def close(self) -> None:
        if self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self.ray = None


class UnloadedPool(ModelPool):
    """Builds remote models as usual and stands in for in-process ones without loading them."""

    def get(self, address: str, config: Any = None) -> ChatModel:
        if split_address(address)[0] in IN_PROCESS:
            return ReplicaModel(address, [], None)
        return super().get(address, config)


@dataclass
class CellRun:
    """One run (or cell) on the cluster: its actors, its episodes in flight, what came back."""

    ray: Any
    task: RunTask
    on_done: Callable[[EpisodeRecord], None]
    players: list[Any] = field(default_factory=list)
    replicas: list[Any] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    played: int = 0
    replayed: int = 0
    replacements: int = 0
    _new_player: Callable[[], Any] = field(default=lambda: None)
    write_errors: list[str] = field(default_factory=list)

    async def run(self) -> CellResult:
        config = self.task.plan.config
        jobs = [
            job
            for job in episode_jobs(self.task.scenarios, config.trials)
            if job.episode_id not in self.task.skip
        ]
        if not jobs:
            return CellResult(0)
        try:
            writer = StoreWriter(self.task.store, self.task.run_id).open()
        except StoreError as exc:  # found before anything is played
            raise ClusterError(str(exc)) from None
        try:
            await self._start(min(len(jobs), config.max_concurrency))
            slots = asyncio.Semaphore(config.max_concurrency)
            await asyncio.gather(*(self._episode(job, slots, writer) for job in jobs))
        finally:
            self._stop()
            for episode_id, problem in writer.close().items():
                self._not_stored(episode_id, problem)
        return CellResult(self.played, self.write_errors, self.replayed)

    # ------------------------------------------------------------------ actors

    async def _start(self, in_flight: int) -> None:
        ray, task = self.ray, self.task
        replicas, images = self._start_replicas()
        shipment = Shipment()
        if needs_demo_ehr(task.scenarios, task.plan.config.tool_options):
            shipment = Shipment(ray.put(await asyncio.to_thread(demo_ehr_bytes)))
        scenarios = ray.put(task.scenarios)
        key = api_key_of(task.plan)
        prompts = stored_prompts(task.plan.prompts)
        setup = PlayerSetup(
            task.plan.config, key, scenarios, prompts, replicas, images, os.getcwd(), shipment
        )
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actor = ray.remote(EpisodePlayer).options(
            num_cpus=1 if cpus else 0,
            scheduling_strategy="SPREAD",
            max_restarts=0,  # the driver replaces a lost player itself (`_replace`)
            max_task_retries=0,
            max_concurrency=in_flight + 1,
        )
        self._new_player = partial(actor.remote, setup)
        self.players = [self._new_player() for _ in range(max(1, min(cpus, in_flight)))]
        self.busy = [0] * len(self.players)
        try:
            await asyncio.gather(*(player.pid.remote() for player in self.players))
        except Exception as exc:  # a player that cannot start: its node lacks something
            raise ClusterError(f"a player could not start on the cluster: {_first(exc)}") from None

    def _start_replicas(self) -> tuple[dict[ModelKey, list[Any]], dict[ModelKey, bool | None]]:
        ray = self.ray
        specs = in_process_models(self.task.plan)
        gpus = float(ray.cluster_resources().get("GPU", 0))
        replicas: dict[ModelKey, list[Any]] = {}
        images: dict[ModelKey, bool | None] = {}
        for spec in specs:
            actor = ray.remote(ModelReplica).options(
                num_cpus=0,
                num_gpus=spec.gpus if gpus else 0,
                max_restarts=PLAYER_RESTARTS,
                max_task_retries=-1,
            )
            handles = [
                actor.remote(spec.address, spec.config)
                for _ in range(replica_count(spec, gpus, len(specs)))
            ]
            self.replicas += handles
            replicas[spec.key] = handles
            try:
                images[spec.key] = ray.get(handles[0].accepts_images.remote())
            except Exception as exc:
                raise ClusterError(f"{spec.address} could not be loaded: {_first(exc)}") from None
        return replicas, images

    def _replace(self, index: int, lost: Any) -> None:
        """A new player in place of a lost one (once, however many episodes it was playing)."""
        if self.players[index] is not lost or self.replacements >= PLAYER_RESTARTS:
            return
        with contextlib.suppress(Exception):
            self.ray.kill(lost)
        self.players[index] = self._new_player()
        self.replacements += 1

    def _stop(self) -> None:
        for actor in [*self.players, *self.replicas]:
            with contextlib.suppress(Exception):  # already gone with its node
                self.ray.kill(actor)

    # ------------------------------------------------------------------ episodes

    def _choose(self, avoid: int | None) -> int:
        """The least busy player, another than `avoid` where there is one."""
        order = sorted(range(len(self.players)), key=lambda i: (i == avoid, self.busy[i], i))
        return order[0]

    async def _episode(self, job: EpisodeJob, slots: asyncio.Semaphore, writer: RunWriter) -> None:
        trials = self.task.plan.config.trials
        index = job.position // trials
        order = EpisodeOrder(job.position, index, job.trial, job.episode_id, replica=job.position)
        async with slots:
            played = await self._attempts(order, writer)
        if played is None:
            return
        record = summarise(
            job.episode_id, job.position, job.scenario, played.events, played.wall_s, job.trial
        )
        try:
            await asyncio.wrap_future(writer.episode_finished(record, played.events))
        except Exception as exc:  # a value the store cannot hold
            self._not_stored(job.episode_id, _first(exc))
            return
        self.played += 1
        self.on_done(record)

    async def _attempts(self, order: EpisodeOrder, writer: RunWriter) -> EpisodePlayed | None:
        lost = _lost_errors(self.ray)
        avoid: int | None = None
        problem = ""
        for _ in range(MAX_ATTEMPTS):
            index = self._choose(avoid)
            player = self.players[index]
            self.busy[index] += 1
            try:
                return await self._attempt(player, order, writer)
            except lost as exc:  # the player's process or node died: play it elsewhere
                avoid, problem = index, _first(exc)
                self.replayed += 1
                self._replace(index, player)
            except Exception as exc:  # a failure inside the player itself
                self._not_stored(order.episode_id, f"not played: {_first(exc)}")
                return None
            finally:
                self.busy[index] -= 1
        self._not_stored(
            order.episode_id,
            f"not played: its worker was lost {MAX_ATTEMPTS} times ({problem}); --resume plays it",
        )
        return None

    async def _attempt(self, player: Any, order: EpisodeOrder, writer: RunWriter) -> EpisodePlayed:
        recorded = writer.recorded_calls(order.episode_id)  # by an attempt on a lost player
        async for ref in player.play.remote(order, recorded):
            message = await ref
            if isinstance(message, CallReturned):
                writer.call_finished(order.episode_id, message.event)
            elif isinstance(message, EpisodePlayed):
                return message
        raise RuntimeError("the player ended without the episode")

    def _not_stored(self, episode_id: str, problem: str) -> None:
        if not any(line.startswith(f"{episode_id}: ") for line in self.write_errors):
            self.write_errors.append(f"{episode_id}: {problem}")


def _lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a worker, actor or node that went away (not for a failure inside it)."""
    names = ("RayActorError", "WorkerCrashedError", "ObjectLostError", "NodeDiedError")
    found = (getattr(ray.exceptions, name, None) for name in names)
    return tuple(error for error in found if isinstance(error, type))


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def api_key_of(plan: Plan) -> str | None:
    """The API key the run was given (every backend that takes one holds the same key)."""
    players: list[Player[Any]] = [plan.doctor, plan.patient, plan.measurement, *plan.judges]
    for player in players:
        value = getattr(player.backend.config, "api_key", None) if player.backend else None
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and value:
            return value
    return None
