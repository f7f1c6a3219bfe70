"""The encounter: a LangGraph state machine driving one episode.

    start -> doctor -> (patient | measurement | tool) -> doctor ... -> judge -> finish
                    \\-> finish (turn limit, doctor failure)

Routing reads the typed action's `kind` through `Literal`-typed routers; nothing looks at text.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

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


def _fail(exc: RoleFailure, turn: int) -> dict[str, Any]:
    return {
        "events": [e.model_copy(update={"turn": turn}) for e in exc.events],
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
        events = [e.model_copy(update={"turn": turn + 1}) for e in result.events]
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
            failed = _fail(exc, turn)
            failed["events"] = [asked, *failed["events"]]
            return failed
        events: list[Event] = [asked, *(e.model_copy(update={"turn": turn}) for e in reply.events)]
        events.append(PatientAnswered(turn=turn, answer=reply.answer, facts=reply.facts))
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
            failed = _fail(exc, turn)
            failed["events"] = [ordered, *failed["events"]]
            return failed
        events: list[Event] = [
            ordered,
            *(e.model_copy(update={"turn": turn}) for e in report.events),
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
                events += [e.model_copy(update={"turn": turn}) for e in exc.events]
                return {
                    "events": events,
                    "outcome": Outcome(reason=exc.reason, detail=f"judge: {exc.detail}"),
                }
            events += [e.model_copy(update={"turn": turn}) for e in verdict.events]
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


NodeName = Literal["start", "doctor", "patient", "measurement", "tool", "judge", "finish"]


def _node(name: NodeName) -> Callable[[EncounterState, Runtime[EncounterParts]], Awaitable[Any]]:
    async def run(state: EncounterState, runtime: Runtime[EncounterParts]) -> Any:
        return await getattr(Encounter(runtime.context), name)(state)

    run.__name__ = name
    return run


def build_graph(checkpointer: Any = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The encounter graph. Each episode's parts travel as the run's context, so one compiled
    graph serves every episode."""
    graph = StateGraph(EncounterState, context_schema=EncounterParts)
    for name in ("start", "doctor", "patient", "measurement", "tool", "judge", "finish"):
        graph.add_node(name, _node(name))  # type: ignore[call-overload]
    graph.add_edge(START, "start")
    graph.add_edge("start", "doctor")
    graph.add_conditional_edges("doctor", Encounter.after_doctor)
    for node in ("patient", "measurement", "tool"):
        graph.add_conditional_edges(node, Encounter.after_step)
    graph.add_edge("judge", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


_GRAPH: CompiledStateGraph[Any, Any, Any, Any] | None = None


def encounter_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    global _GRAPH
    if _GRAPH is None:
        _GRAPH = build_graph()
    return _GRAPH


Responder = Callable[[dict[str, Any]], Awaitable[str]]
"""Answers a role's interrupt (a person at the terminal): gets the prompt, returns the reply."""


async def _drive(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    graph_input: Any,
    config: Any,
    parts: EncounterParts,
    on_event: Callable[[Event], None] | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    stream = graph.astream(
        graph_input, config=config, context=parts, stream_mode=["updates", "values"]
    )
    async for mode, chunk in stream:
        data: dict[str, Any] = chunk  # type: ignore[assignment]
        if mode == "values":
            values = data
        elif on_event is not None:
            for node, update in data.items():
                if node != "__interrupt__" and isinstance(update, dict):
                    for event in update.get("events", []):
                        on_event(event)
    return values


async def run_encounter(
    parts: EncounterParts,
    on_event: Callable[[Event], None] | None = None,
    respond: Responder | None = None,
) -> list[Event]:
    """Run one episode to its end and return its events.

    `on_event` sees events as they happen. `respond` answers interrupts raised by roles played
    by a person; with it the graph runs with a checkpointer so it can pause and resume.
    """
    encounter = Encounter(parts)
    limit = encounter.recursion_limit()
    if respond is None:
        values = await _drive(encounter_graph(), {}, {"recursion_limit": limit}, parts, on_event)
    else:
        graph = build_graph(checkpointer=InMemorySaver())
        config: Any = {"recursion_limit": limit, "configurable": {"thread_id": parts.episode_id}}
        graph_input: Any = {}
        while True:
            values = await _drive(graph, graph_input, config, parts, on_event)
            snapshot = await graph.aget_state(config)
            pending = [i for task in snapshot.tasks for i in task.interrupts]
            if not pending:
                break
            graph_input = Command(resume=await respond(pending[0].value))
    events: list[Event] = values["events"]
    return events
