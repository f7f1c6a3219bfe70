"""What every role can know about the episode it is playing in, without being told: the
episode's id, the current turn, where to record events, and how its model calls are numbered.

The encounter opens one `Episode` per episode and enters `episode.step(turn)` around each step;
inside it, `current_episode()` is that episode (a `contextvars` variable, so concurrent episodes
never see each other's). Roles record what they observe with `record(event)` (model calls,
rejected replies, withheld answers) and return only their answer; every recorded event is
stamped once, as it is recorded, with the step's turn and its place in the episode (`seq`), and
the encounter appends the step's events to the episode's events.

Whoever plays the episode may watch what is recorded as it is recorded (`Episode.observer`): the
runner journals each model call that way, the moment it returns.

Model calls are numbered per (episode, role): 0, 1, ... across every agent playing that role in
the episode (two model judges, the two doctors of a fork), so a recorded call can be found again
by its `ModelCall` (episode, role, index) when the episode is replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from clinsim.environments.events import Event


@dataclass(frozen=True)
class ModelCall:
    """One model call of a role within an episode."""

    episode_id: str
    role: str
    index: int

    @property
    def call_id(self) -> str:
        """Deterministic: the same episode makes the same ids in the same order."""
        return f"{self.episode_id}:{self.role}:{self.index}"


@dataclass
class Episode:
    episode_id: str
    turn: int = 0
    observer: Callable[[Event], None] | None = field(default=None, repr=False)
    """Sees every event as it is recorded (stamped with its turn)."""
    _recorded: list[Event] = field(default_factory=list, repr=False)
    _first_seq: int = field(default=0, repr=False)
    _calls: dict[str, int] = field(default_factory=dict, repr=False)

    def record(self, event: Event) -> None:
        """Add an event to the current step, stamped with the step's turn and its `seq`."""
        seq = self._first_seq + len(self._recorded)
        if event.turn != self.turn or event.seq != seq:
            event = event.model_copy(update={"turn": self.turn, "seq": seq})
        self._recorded.append(event)
        if self.observer is not None:
            self.observer(event)

    def next_call(self, role: str) -> ModelCall:
        index = self._calls.get(role, 0)
        self._calls[role] = index + 1
        return ModelCall(self.episode_id, role, index)

    @contextmanager
    def step(self, turn: int, first_seq: int = 0) -> Iterator[list[Event]]:
        """Play one step of the episode at `turn`; yields the list its events are recorded in,
        numbered from `first_seq` (the number of events the episode holds before the step)."""
        self.turn = turn
        recorded: list[Event] = []
        self._recorded = recorded
        self._first_seq = first_seq
        token = _EPISODE.set(self)
        try:
            yield recorded
        finally:
            _EPISODE.reset(token)


_EPISODE: ContextVar[Episode | None] = ContextVar("clinsim_episode", default=None)
_CALL: ContextVar[ModelCall | None] = ContextVar("clinsim_model_call", default=None)


class NoEpisode(RuntimeError):
    """A role recorded an event outside any episode step."""


def current_episode() -> Episode:
    episode = _EPISODE.get()
    if episode is None:
        raise NoEpisode(
            "no episode is being played here: roles record events within an episode step "
            "(clinsim.environments.context.Episode(...).step(turn))"
        )
    return episode


def record(event: Event) -> None:
    """Record an event in the current episode step."""
    current_episode().record(event)


@contextmanager
def calling(call: ModelCall) -> Iterator[ModelCall]:
    """Mark `call` as the model call in progress (what replay matches on)."""
    token = _CALL.set(call)
    try:
        yield call
    finally:
        _CALL.reset(token)


def current_call() -> ModelCall | None:
    """The model call in progress, if a role is making one."""
    return _CALL.get()
