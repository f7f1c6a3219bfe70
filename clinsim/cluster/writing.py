"""The driver's writer of a run played on a cluster: one thread writes every finished episode
to the run store, in the order episodes come back."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from clinsim.environments.events import Event, ModelCalled
from clinsim.environments.run_store import EpisodeRecord, RunStore


class DriverWriter:
    """Stores finished episodes from one thread; keeps the model calls of episodes in flight."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-store-writer")
        self._calls: dict[str, list[ModelCalled]] = {}

    def call_finished(self, episode_id: str, event: ModelCalled) -> None:
        self._calls.setdefault(episode_id, []).append(event)

    def recorded_calls(self, episode_id: str) -> list[ModelCalled]:
        return []

    def episode_finished(self, record: EpisodeRecord, events: list[Event]) -> Future[None]:
        self._calls.pop(record.episode_id, None)
        return self._thread.submit(self.store.write_episode, self.run_id, record, events)

    def close(self, wait_s: float | None = None) -> dict[str, str]:
        self._thread.shutdown(wait=True)
        return {}
