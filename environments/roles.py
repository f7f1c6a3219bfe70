"""The contracts between the encounter and whoever plays each role.

The encounter graph only knows these protocols; `clinsim.agents` implements them (offline
agents, LLM agents, humans) and `clinsim.tools` implements the tool port. A role returns its
answer and nothing else; what it observes on the way (model calls, rejected replies) it records
in the episode context (`clinsim.environments.context.record`). A role that cannot answer raises
`RoleFailure`, which ends the episode with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import JsonValue

from clinsim.environments.actions import Action, SubmitDiagnosis
from clinsim.environments.events import Grade, MatchEvidence
from clinsim.environments.termination import TerminationReason
from clinsim.environments.tool_spec import ToolResult, ToolSpec
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
    objective: str
    turn: int
    max_turns: int
    tools: tuple[ToolSpec, ...]
    """The core actions, then the toolbox's tools offered in this episode."""
    history: tuple[Exchange, ...] = ()
    images: tuple[ImageRef, ...] = ()
    """Images shown up front (their ids appear in `history` when shown on request)."""
    seed: int = 0
    vignette: str | None = None
    """The whole case as text when it is presented as a vignette (one turn, diagnose now);
    None in a dialogue. Built from the case, never the answer key."""

    @property
    def turns_left(self) -> int:
        return self.max_turns - self.turn


@dataclass
class PatientTurn:
    answer: str
    facts: list[str] = field(default_factory=list)


@dataclass
class MeasurementTurn:
    matched: str | None
    available: bool
    result: str


@dataclass
class Verdict:
    match: bool
    reason: str
    rank: int | None = None
    grade: Grade | None = None
    """How the leading diagnosis relates to the reference; None from judges that do not grade."""
    evidence: list[MatchEvidence] = field(default_factory=list)


class Doctor(Protocol):
    async def act(self, view: DoctorView) -> Action: ...


class Patient(Protocol):
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn: ...


class Measurement(Protocol):
    async def report(self, test: str) -> MeasurementTurn: ...


class Judge(Protocol):
    name: str

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict: ...


class ToolPort(Protocol):
    def specs(self) -> list[ToolSpec]:
        """The tools offered in this episode."""
        ...

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolResult:
        """Run a tool. Problems the doctor should see come back in `error`; anything else
        raises and ends the episode."""
        ...


class RoleFailure(Exception):
    """A role could not produce an answer (dead server, broken reply after repairs)."""

    def __init__(self, reason: TerminationReason, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
