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
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinsim.cluster.replicas import ROUTE, ModelKey, RoutedPool
from clinsim.cluster.shipping import Shipment
from clinsim.components import resolve
from clinsim.config import RunConfig, StoredPrompt
from clinsim.environments.events import Event, ModelCalled
from clinsim.environments.run_store import EpisodeRecord, RunStore
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
        scratch = Path(tempfile.gettempdir()) / "clinsim-player-unused"
        self.runner = Runner(
            resolve(setup.config, setup.api_key, setup.prompts),
            RunStore(scratch),  # never written: the driver stores every episode
            "player",
            pool=RoutedPool(setup.replicas, setup.images),
        )
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    async def play(
        self, order: EpisodeOrder, recorded: list[ModelCalled]
    ) -> AsyncIterator[Message]:
        """Play one episode, answering the calls of `recorded` (an earlier attempt's) from them;
        yields its model calls as they return, then the episode."""
        journal = Journal(recorded)
        ROUTE.set(order.replica)  # this method's task (and the episode's) runs in its own context
        scenario = self.scenarios[order.index]
        started = time.perf_counter()
        playing = asyncio.ensure_future(
            self.runner.play(scenario, order.episode_id, order.trial, journal)
        )
        try:
            while not playing.done():
                waiting = asyncio.ensure_future(journal.calls.get())
                await asyncio.wait({playing, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield CallReturned(waiting.result())
                else:
                    waiting.cancel()
            while not journal.calls.empty():
                yield CallReturned(journal.calls.get_nowait())
            events = playing.result()
        finally:
            playing.cancel()
        yield EpisodePlayed(events, time.perf_counter() - started, self.worker)


class Journal:
    """The `RunWriter` an episode is played with on a player: its model calls go back to the
    driver (the run's writer) as they return; the calls of an earlier attempt come from it."""

    def __init__(self, recorded: list[ModelCalled]):
        self.recorded = recorded
        self.calls: asyncio.Queue[ModelCalled] = asyncio.Queue()

    def recorded_calls(self, episode_id: str) -> list[ModelCalled]:
        return self.recorded

    def call_finished(self, episode_id: str, event: ModelCalled) -> None:
        self.calls.put_nowait(event)

    def episode_finished(self, record: EpisodeRecord, events: list[Event]) -> Future[None]:
        raise NotImplementedError("a player stores nothing: the driver does")

    def close(self, wait_s: float | None = None) -> dict[str, str]:
        return {}
