"""A player: the Ray actor that plays a run's episodes on a worker and streams them back.

Each player is made once per run (or experiment cell) from plain data: the run's `RunConfig`,
the API key (never stored), the scenarios (one object in Ray's object store, put there once by
the driver and fetched once per player), the replicas of its in-process models and the files it
needs on its node. It resolves the run's components itself, so tools, image models and EHR views
are built once per player and shared by all its episodes, as in a local run.

`play(order, recorded)` plays one episode (many at once: the actor is asynchronous) and yields,
as they happen, each model call as it returns (`CallReturned`) and finally the episode's events
(`EpisodePlayed`). The driver stores them; a player writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinsim.cluster.replicas import ROUTE, ModelKey, RoutedPool
from clinsim.cluster.shipping import Shipment
from clinsim.components import resolve
from clinsim.config import RunConfig, StoredPrompt
from clinsim.environments.events import Event, ModelCalled
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.model import Scenario


@dataclass(frozen=True)
class EpisodeOrder:
    """One episode to play: which scenario (its index), trial and id, and which replica of the
    run's in-process models it uses."""

    position: int
    index: int
    trial: int
    episode_id: str
    replica: int = 0


@dataclass(frozen=True)
class CallReturned:
    event: ModelCalled


@dataclass(frozen=True)
class EpisodePlayed:
    events: list[Event]
    wall_s: float
    worker: str = ""


Message = CallReturned | EpisodePlayed


@dataclass(frozen=True)
class PlayerSetup:
    """Everything a player is made from (plain data and object references)."""

    config: RunConfig
    api_key: str | None
    scenarios: Any
    """A reference to the run's scenarios in the object store (fetched by each player)."""
    prompts: dict[str, StoredPrompt] = field(default_factory=dict)
    """The prompt templates the driver planned, played as they are (no file read here)."""
    replicas: dict[ModelKey, list[Any]] = field(default_factory=dict)
    images: dict[ModelKey, bool | None] = field(default_factory=dict)
    workdir: str = ""
    shipment: Shipment = field(default_factory=Shipment)


class EpisodePlayer:
    """Plays episodes of one run (a Ray actor; see `clinsim.cluster.executor`)."""

    def __init__(self, setup: PlayerSetup):
        import ray

        if setup.workdir and Path(setup.workdir).is_dir():
            os.chdir(setup.workdir)  # relative paths in the settings mean what they meant there
        setup.shipment.unpack(ray.get)
        self.scenarios: list[Scenario] = ray.get(setup.scenarios)
        self.queues: dict[str, asyncio.Queue[ModelCalled]] = {}
        scratch = Path(tempfile.gettempdir()) / "clinsim-player-unused"
        self.runner = Runner(
            resolve(setup.config, setup.api_key, setup.prompts),
            RunStore(scratch),  # never written: the driver stores every episode
            "player",
            on_event=self._observe,
            pool=RoutedPool(setup.replicas, setup.images),
        )
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def _observe(self, episode_id: str, event: Event) -> None:
        queue = self.queues.get(episode_id)
        if queue is not None and isinstance(event, ModelCalled):
            queue.put_nowait(event)

    async def play(
        self, order: EpisodeOrder, recorded: list[ModelCalled]
    ) -> AsyncIterator[Message]:
        """Play one episode; yields its model calls as they return, then the episode."""
        calls: asyncio.Queue[ModelCalled] = asyncio.Queue()
        self.queues[order.episode_id] = calls
        ROUTE.set(order.replica)  # this method's task (and the episode's) runs in its own context
        scenario = self.scenarios[order.index]
        started = time.perf_counter()
        playing = asyncio.ensure_future(self.runner.play(scenario, order.episode_id, order.trial))
        try:
            while not playing.done():
                waiting = asyncio.ensure_future(calls.get())
                await asyncio.wait({playing, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield CallReturned(waiting.result())
                else:
                    waiting.cancel()
            while not calls.empty():
                yield CallReturned(calls.get_nowait())
            events = playing.result()
        finally:
            self.queues.pop(order.episode_id, None)
            playing.cancel()
        yield EpisodePlayed(events, time.perf_counter() - started, self.worker)
