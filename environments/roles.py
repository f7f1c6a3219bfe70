"""The contracts between the encounter and whoever plays each role.

The encounter graph only knows these protocols; `clinsim.agents` implements them (offline
agents, LLM agents, humans) and `clinsim.tools` implements the tool port. Every role returns
the events it produced besides its answer (model calls, rejected replies), so the episode's
event list records everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import JsonValue

from clinsim.environments.actions import Action, SubmitDiagnosis
from clinsim.environments.events import Event, Grade, MatchEvidence
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import AnswerKey, ImageRef


@dataclass(frozen=True)
class Exchange:
    """One doctor action and what the doctor observed in return."""

    action: Action
    observation: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoctorView:
    """Everything the doctor may see at a turn. Built from the case, never the answer key."""

    scenario_id: str
    episode_id: str
    objective: str
    turn: int
    max_turns: int
    tools: tuple[dict[str, Any], ...]
    history: tuple[Exchange, ...] = ()
    images: tuple[ImageRef, ...] = ()
    """Images shown up front (their ids appear in `history` when shown on request)."""
    seed: int = 0

    @property
    def turns_left(self) -> int:
        return self.max_turns - self.turn


@dataclass
class DoctorTurn:
    action: Action | None
    events: list[Event] = field(default_factory=list)
    failure: TerminationReason | None = None
    detail: str = ""


@dataclass
class PatientTurn:
    answer: str
    facts: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class MeasurementTurn:
    matched: str | None
    available: bool
    result: str
    events: list[Event] = field(default_factory=list)


@dataclass
class Verdict:
    match: bool
    reason: str
    rank: int | None = None
    events: list[Event] = field(default_factory=list)
    grade: Grade | None = None
    """How the leading diagnosis relates to the reference; None from judges that do not grade."""
    evidence: list[MatchEvidence] = field(default_factory=list)


@dataclass
class ToolOutcome:
    text: str
    error: str | None = None
    data: JsonValue = None
    images: list[str] = field(default_factory=list)


class Doctor(Protocol):
    async def act(self, view: DoctorView) -> DoctorTurn: ...


class Patient(Protocol):
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn: ...


class Measurement(Protocol):
    async def report(self, test: str) -> MeasurementTurn: ...


class Judge(Protocol):
    name: str

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict: ...


class ToolPort(Protocol):
    def specs(self) -> list[dict[str, Any]]:
        """OpenAI-style function specs of the tools offered in this episode."""
        ...

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolOutcome:
        """Run a tool. Problems the doctor should see come back in `error`; anything else
        raises and ends the episode."""
        ...


class RoleFailure(Exception):
    """A role could not produce an answer (dead server, broken reply after repairs)."""

    def __init__(self, reason: TerminationReason, detail: str, events: list[Event] | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.events = events or []
