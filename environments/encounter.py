"""The encounter's state and its nodes: what happens at each step of one episode.

Routing reads the typed action's `kind` through `Literal`-typed routers; nothing looks at text.
The graph that wires these nodes together is in `clinsim.environments.graph`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, TypedDict

from clinsim.environments.actions import (
    CORE_ACTIONS,
    SUBMIT_DIAGNOSIS,
    Action,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
)
from clinsim.environments.context import Episode, record
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
NO_DIAGNOSIS = "no diagnosis submitted"
Presentation = Literal["dialogue", "vignette"]
"""How the case reaches the doctor: a conversation (questions, tests, tools, turn by turn) or
the whole case at once, to be diagnosed in one turn (CRAFT-MD's vignette)."""


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
    presentation: Presentation = "dialogue"
    """`vignette`: the doctor is shown the whole case and every image at the start, offered
    nothing but `submit_diagnosis`, and has one turn."""

    def __post_init__(self) -> None:
        if self.presentation == "vignette":
            self.max_turns = 1
            self.images_upfront = True


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
    episode: Episode = field(init=False)
    """The episode's context (turn, recorder, call numbering) that every role can read."""

    def __post_init__(self) -> None:
        self.episode = Episode(self.episode_id)

    @cached_property
    def encounter(self) -> Encounter:
        """The encounter that plays these parts (made once, on first use)."""
        return Encounter(self)


def _fail(exc: RoleFailure, events: list[Event], prefix: str = "") -> dict[str, Any]:
    """The update that ends the episode with a role's failure, after the step's events."""
    return {"events": events, "outcome": Outcome(reason=exc.reason, detail=prefix + exc.detail)}


class Encounter:
    def __init__(self, parts: EncounterParts):
        self.parts = parts
        self.upfront: tuple[ImageRef, ...] = tuple(
            image
            for image in parts.case.images
            if image.shown_upfront or parts.settings.images_upfront
        )
        self.vignette: str | None = None
        if parts.settings.presentation == "vignette":
            from clinsim.scenarios.vignette import case_vignette

            self.vignette = case_vignette(parts.case)

    def _step(self, state: EncounterState, turn: int) -> AbstractContextManager[list[Event]]:
        """The episode's step at `turn`, numbering its events after those already in `state`."""
        return self.parts.episode.step(turn, len(state.get("events", ())))

    # ------------------------------------------------------------------ nodes

    async def start(self, state: EncounterState) -> dict[str, Any]:
        p = self.parts
        with self._step(state, 0) as events:
            record(
                EpisodeStarted(
                    scenario_id=p.scenario_id,
                    seed=p.seed,
                    max_turns=p.settings.max_turns,
                    agents=p.agents,
                )
            )
            for image in self.upfront:
                record(ImageShown(image_id=image.id, modality=image.modality))
        return {"events": events, "turn": 0, "cost": 0.0, "outcome": None, "pending": None}

    def view(self, state: EncounterState) -> DoctorView:
        p = self.parts
        return DoctorView(
            scenario_id=p.scenario_id,
            objective=p.case.objective,
            turn=state["turn"],
            max_turns=p.settings.max_turns,
            tools=(SUBMIT_DIAGNOSIS,) if self.vignette else (*CORE_ACTIONS, *p.tools.specs()),
            history=tuple(state.get("history", [])),
            images=self.upfront,
            seed=p.seed,
            vignette=self.vignette,
        )

    async def doctor(self, state: EncounterState) -> dict[str, Any]:
        turn = state["turn"]
        if turn >= self.parts.settings.max_turns:
            detail = f"no diagnosis after {turn} doctor turns"
            return {"outcome": Outcome(reason=TerminationReason.TURN_LIMIT, detail=detail)}
        with self._step(state, turn + 1) as events:
            try:
                action = await self.parts.doctor.act(self.view(state))
            except RoleFailure as exc:
                return {**_fail(exc, events), "turn": turn + 1}
        if self.vignette and not isinstance(action, SubmitDiagnosis):
            detail = f"vignette: the one turn was {action.kind}, not a diagnosis"
            outcome = Outcome(reason=TerminationReason.TURN_LIMIT, detail=detail)
            return {"events": events, "outcome": outcome, "turn": turn + 1}
        return {"events": events, "pending": action, "turn": turn + 1}

    async def patient(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, AskPatient)
        turn = state["turn"]
        history = [
            (x.action.question, x.observation)
            for x in state.get("history", [])
            if isinstance(x.action, AskPatient)
        ]
        with self._step(state, turn) as events:
            record(QuestionAsked(question=action.question))
            try:
                reply = await self.parts.patient.answer(action.question, history)
            except RoleFailure as exc:
                return _fail(exc, events)
            record(PatientAnswered(answer=reply.answer, facts=reply.facts))
            if self.parts.monitor is not None:
                for fault in self.parts.monitor.after_answer(action.question, reply, events):
                    record(fault)
        return {"events": events, "history": [Exchange(action, reply.answer)], "pending": None}

    async def measurement(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, OrderTest)
        turn = state["turn"]
        cost = float(self.parts.cost_of(action.test))
        with self._step(state, turn) as events:
            record(TestOrdered(test=action.test, cost=cost))
            try:
                report = await self.parts.measurement.report(action.test)
            except RoleFailure as exc:
                return _fail(exc, events)
            record(
                TestReported(
                    test=action.test,
                    matched=report.matched,
                    available=report.available,
                    result=report.result,
                )
            )
            if self.parts.monitor is not None:
                for fault in self.parts.monitor.after_report(action.test, report):
                    record(fault)
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
        known = {i.id: i for i in self.parts.case.images}
        with self._step(state, state["turn"]) as events:
            record(ToolCalled(tool=action.tool, arguments=action.arguments))
            try:
                out = await self.parts.tools.call(action.tool, action.arguments)
            except Exception as exc:  # a tool bug, not a doctor mistake: end with a reason
                detail = f"tool {action.tool!r} failed: {type(exc).__name__}: {exc}"
                outcome = Outcome(reason=TerminationReason.TOOL_ERROR, detail=detail)
                return {"events": events, "outcome": outcome}
            text = f"error: {out.error}" if out.error else out.text
            record(ToolReturned(tool=action.tool, result=text, error=out.error, data=out.data))
            for image in out.images:
                modality = known[image].modality if image in known else None
                record(ImageShown(image_id=image, modality=modality))
        exchange = Exchange(action, text, tuple(out.images))
        return {"events": events, "history": [exchange], "pending": None}

    async def judge(self, state: EncounterState) -> dict[str, Any]:
        action = state["pending"]
        assert isinstance(action, SubmitDiagnosis)
        with self._step(state, state["turn"]) as events:
            record(DiagnosisSubmitted(diagnosis=action.diagnosis, differential=action.differential))
            for judge in self.parts.judges:
                try:
                    verdict = await judge.judge(action, self.parts.answer)
                except RoleFailure as exc:
                    return _fail(exc, events, prefix="judge: ")
                record(
                    DiagnosisJudged(
                        judge=judge.name,
                        match=verdict.match,
                        reason=verdict.reason,
                        rank=verdict.rank,
                        grade=verdict.grade,
                        evidence=verdict.evidence,
                    )
                )
        outcome = Outcome(reason=TerminationReason.DIAGNOSED, detail="")
        return {"events": events, "outcome": outcome, "pending": None}

    async def finish(self, state: EncounterState) -> dict[str, Any]:
        outcome = state.get("outcome") or Outcome(
            reason=TerminationReason.PROTOCOL_ERROR, detail="episode ended without a reason"
        )
        judged = any(isinstance(e, DiagnosisJudged) for e in state.get("events", []))
        with self._step(state, state.get("turn", 0)) as events:
            if not judged:
                for judge in self.parts.judges:
                    record(
                        DiagnosisJudged(
                            judge=judge.name, match=False, reason="no diagnosis submitted"
                        )
                    )
            record(EpisodeEnded(reason=outcome["reason"], detail=outcome["detail"]))
        return {"events": events, "outcome": outcome}

    # ---------------------------------------------------------------- routers
    # Each reads the state as the step just left it (`after`: the state's plain keys with the
    # step's update applied) and names the next node; the graph declares a node's possible
    # successors from its router's `Literal` return type.

    @staticmethod
    def after_doctor(
        after: Mapping[str, Any],
    ) -> Literal["patient", "measurement", "tool", "judge", "finish"]:
        if after.get("outcome") is not None:
            return "finish"
        action = after["pending"]
        if isinstance(action, AskPatient):
            return "patient"
        if isinstance(action, OrderTest):
            return "measurement"
        if isinstance(action, CallTool):
            return "tool"
        return "judge"

    @staticmethod
    def after_step(after: Mapping[str, Any]) -> Literal["doctor", "finish"]:
        return "finish" if after.get("outcome") is not None else "doctor"

    def recursion_limit(self) -> int:
        return 2 * self.parts.settings.max_turns + 10
