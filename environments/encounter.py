"""The encounter's state and its nodes: what happens at each step of one episode.

Routing reads the typed action's `kind` through `Literal`-typed routers; nothing looks at text.
The graph that wires these nodes together is in `clinsim.environments.graph`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from clinsim.environments.actions import (
    Action,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
    core_action_specs,
)
from clinsim.environments.events import (
    DiagnosisJudged,
    DiagnosisSubmitted,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    ImageShown,
    PatientAnswered,
    QuestionAsked,
    TestOrdered,
    TestReported,
    ToolCalled,
    ToolReturned,
    append_events,
)
from clinsim.environments.faults import FaultMonitor
from clinsim.environments.roles import (
    Doctor,
    DoctorView,
    Exchange,
    Judge,
    Measurement,
    Patient,
    RoleFailure,
    ToolPort,
)
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import AnswerKey, Case, ImageRef

DEFAULT_MAX_TURNS = 20


class Outcome(TypedDict):
    reason: TerminationReason
    detail: str


class EncounterState(TypedDict, total=False):
    events: Annotated[list[Event], append_events]
    history: Annotated[list[Exchange], operator.add]
    turn: int
    pending: Action | None
    cost: float
    outcome: Outcome | None


@dataclass
class EncounterSettings:
    max_turns: int = DEFAULT_MAX_TURNS
    budget: float | None = None
    """Stop with BUDGET_EXHAUSTED once test costs exceed this (USD); None: no limit."""
    images_upfront: bool = False
    """Show every image at the start (AgentClinic's default) instead of only on request."""


@dataclass
class EncounterParts:
    """Everything one episode needs. Only `judges` ever see the answer key."""

    scenario_id: str
    episode_id: str
    case: Case
    answer: AnswerKey
    doctor: Doctor
    patient: Patient
    measurement: Measurement
    judges: list[Judge]
    tools: ToolPort
    cost_of: Callable[[str], float] = field(default=lambda _test: 0.0)
    """Price of an ordered test (USD)."""
    seed: int = 0
    settings: EncounterSettings = field(default_factory=EncounterSettings)
    agents: dict[str, str] = field(default_factory=dict)
    monitor: FaultMonitor | None = None
    """Checks each patient answer and test report for simulator faults (events only)."""


def at_turn(events: list[Event], turn: int) -> list[Event]:
    """A role's events stamped with the turn they happened in."""
    return [e.model_copy(update={"turn": turn}) for e in events]


def _fail(exc: RoleFailure, turn: int, before: list[Event] | None = None) -> dict[str, Any]:
    """The update that ends the episode with a role's failure (after `before`, if any)."""
    return {
        "events": [*(before or []), *at_turn(exc.events, turn)],
        "outcome": Outcome(reason=exc.reason, detail=exc.detail),
        "turn": turn,
    }


class Encounter:
    def __init__(self, parts: EncounterParts):
        self.parts = parts
        self.upfront: tuple[ImageRef, ...] = tuple(
            image
            for image in parts.case.images
            if image.shown_upfront or parts.settings.images_upfront
        )

    # ------------------------------------------------------------------ nodes

    async def start(self, state: EncounterState) -> dict[str, Any]:
        p = self.parts
        events: list[Event] = [
            EpisodeStarted(
                scenario_id=p.scenario_id,
                seed=p.seed,
                max_turns=p.settings.max_turns,
                agents=p.agents,
            )
        ]
        events += [ImageShown(image_id=i.id, modality=i.modality) for i in self.upfront]
        return {"events": events, "turn": 0, "cost": 0.0, "outcome": None, "pending": None}

    def view(self, state: EncounterState) -> DoctorView:
        p = self.parts
        return DoctorView(
            scenario_id=p.scenario_id,
            episode_id=p.episode_id,
            objective=p.case.objective,
            turn=state["turn"],
            max_turns=p.settings.max_turns,
            tools=tuple(core_action_specs() + p.tools.specs()),
            history=tuple(state.get("history", [])),
            images=self.upfront,
            seed=p.seed,
        )

    async def doctor(self, state: EncounterState) -> dict[str, Any]:
        turn = state["turn"]
        if turn >= self.parts.settings.max_turns:
            detail = f"no diagnosis after {turn} doctor turns"
            return {"outcome": Outcome(reason=TerminationReason.TURN_LIMIT, detail=detail)}
        try:
            result = await self.parts.doctor.act(self.view(state))
        except RoleFailure as exc:
            return _fail(exc, turn + 1)
        events = at_turn(result.events, turn + 1)
        if result.action is None:
            reason = result.failure or TerminationReason.PROTOCOL_ERROR
            detail = result.detail or "the doctor produced no action"
            outcome = Outcome(reason=reason, detail=detail)
            return {"events": events, "outcome": outcome, "turn": turn + 1}
        return {"events": events, "pending": result.action, "turn": turn + 1}

    async def patient(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, AskPatient)
        turn = state["turn"]
        history = [
            (x.action.question, x.observation)
            for x in state.get("history", [])
            if isinstance(x.action, AskPatient)
        ]
        asked = QuestionAsked(turn=turn, question=action.question)
        try:
            reply = await self.parts.patient.answer(action.question, history)
        except RoleFailure as exc:
            return _fail(exc, turn, before=[asked])
        events: list[Event] = [asked, *at_turn(reply.events, turn)]
        events.append(PatientAnswered(turn=turn, answer=reply.answer, facts=reply.facts))
        if self.parts.monitor is not None:
            events += at_turn(list(self.parts.monitor.after_answer(action.question, reply)), turn)
        return {"events": events, "history": [Exchange(action, reply.answer)], "pending": None}

    async def measurement(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, OrderTest)
        turn = state["turn"]
        cost = float(self.parts.cost_of(action.test))
        ordered = TestOrdered(turn=turn, test=action.test, cost=cost)
        try:
            report = await self.parts.measurement.report(action.test)
        except RoleFailure as exc:
            return _fail(exc, turn, before=[ordered])
        events: list[Event] = [
            ordered,
            *at_turn(report.events, turn),
        ]
        events.append(
            TestReported(
                turn=turn,
                test=action.test,
                matched=report.matched,
                available=report.available,
                result=report.result,
            )
        )
        if self.parts.monitor is not None:
            events += at_turn(list(self.parts.monitor.after_report(action.test, report)), turn)
        total = state.get("cost", 0.0) + cost
        update: dict[str, Any] = {
            "events": events,
            "history": [Exchange(action, report.result)],
            "pending": None,
            "cost": total,
        }
        budget = self.parts.settings.budget
        if budget is not None and total > budget:
            detail = f"test costs {total:.2f} exceed the budget of {budget:.2f}"
            update["outcome"] = Outcome(reason=TerminationReason.BUDGET_EXHAUSTED, detail=detail)
        return update

    async def tool(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, CallTool)
        turn = state["turn"]
        called = ToolCalled(turn=turn, tool=action.tool, arguments=action.arguments)
        try:
            out = await self.parts.tools.call(action.tool, action.arguments)
        except Exception as exc:  # a tool bug, not a doctor mistake: end with a reason
            detail = f"tool {action.tool!r} failed: {type(exc).__name__}: {exc}"
            return {
                "events": [called],
                "outcome": Outcome(reason=TerminationReason.TOOL_ERROR, detail=detail),
            }
        text = f"error: {out.error}" if out.error else out.text
        events: list[Event] = [
            called,
            ToolReturned(turn=turn, tool=action.tool, result=text, error=out.error, data=out.data),
        ]
        known = {i.id: i for i in self.parts.case.images}
        events += [
            ImageShown(turn=turn, image_id=i, modality=known[i].modality if i in known else None)
            for i in out.images
        ]
        exchange = Exchange(action, text, tuple(out.images))
        return {"events": events, "history": [exchange], "pending": None}

    async def judge(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, SubmitDiagnosis)
        turn = state["turn"]
        events: list[Event] = [
            DiagnosisSubmitted(
                turn=turn, diagnosis=action.diagnosis, differential=action.differential
            )
        ]
        for judge in self.parts.judges:
            try:
                verdict = await judge.judge(action, self.parts.answer)
            except RoleFailure as exc:
                events += at_turn(exc.events, turn)
                return {
                    "events": events,
                    "outcome": Outcome(reason=exc.reason, detail=f"judge: {exc.detail}"),
                }
            events += at_turn(verdict.events, turn)
            events.append(
                DiagnosisJudged(
                    turn=turn,
                    judge=judge.name,
                    match=verdict.match,
                    reason=verdict.reason,
                    rank=verdict.rank,
                )
            )
        outcome = Outcome(reason=TerminationReason.DIAGNOSED, detail="")
        return {"events": events, "outcome": outcome, "pending": None}

    async def finish(self, state: EncounterState) -> dict[str, Any]:
        outcome = state.get("outcome") or Outcome(
            reason=TerminationReason.PROTOCOL_ERROR, detail="episode ended without a reason"
        )
        turn = state.get("turn", 0)
        events: list[Event] = []
        judged = any(isinstance(e, DiagnosisJudged) for e in state.get("events", []))
        if not judged:
            events += [
                DiagnosisJudged(
                    turn=turn, judge=j.name, match=False, reason="no diagnosis submitted"
                )
                for j in self.parts.judges
            ]
        events.append(EpisodeEnded(turn=turn, reason=outcome["reason"], detail=outcome["detail"]))
        return {"events": events, "outcome": outcome}

    # ---------------------------------------------------------------- routers

    @staticmethod
    def after_doctor(
        state: EncounterState,
    ) -> Literal["patient", "measurement", "tool", "judge", "finish"]:
        if state.get("outcome") is not None:
            return "finish"
        action = state["pending"]
        if isinstance(action, AskPatient):
            return "patient"
        if isinstance(action, OrderTest):
            return "measurement"
        if isinstance(action, CallTool):
            return "tool"
        return "judge"

    @staticmethod
    def after_step(state: EncounterState) -> Literal["doctor", "finish"]:
        return "finish" if state.get("outcome") is not None else "doctor"

    def recursion_limit(self) -> int:
        return 2 * self.parts.settings.max_turns + 10
