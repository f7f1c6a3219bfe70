"""Playing a role outside the encounter graph, as the encounter does: inside an episode step,
with the events the role records collected in a list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clinsim.environments.context import Episode
from clinsim.environments.events import Event


@contextmanager
def in_episode(episode_id: str = "ep-1", turn: int = 1) -> Iterator[list[Event]]:
    """`with in_episode() as events: answer = await role.act(...)`; `events` holds what the
    role recorded, stamped with `turn`."""
    with Episode(episode_id).step(turn) as events:
        yield events
