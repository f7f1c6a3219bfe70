"""The encounter graph: shape, routing by action type, every way an episode ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clinsim.agents.doctors.scripted import ScriptedDoctor
from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.context import current_episode, record
from clinsim.environments.encounter import EncounterParts, EncounterSettings
from clinsim.environments.events import DoctorReplyRejected, PatientLeakBlocked, comparable
from clinsim.environments.graph import build_graph, encounter_graph, run_encounter
from clinsim.environments.roles import (
    DoctorView,
    MeasurementTurn,
    PatientTurn,
    RoleFailure,
    Verdict,
)
from clinsim.environments.termination import TerminationReason
from clinsim.environments.tool_spec import ToolResult, ToolSpec
from clinsim.scenarios.sets import find_scenario

SNAPSHOT = Path(__file__).parent / "snapshots" / "encounter.mmd"
SCENARIO = find_scenario("agentclinic-medqa/0001")


class EchoPatient:
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        return PatientTurn(f"you asked: {question}", facts=["history"])


class TableMeasurement:
    async def report(self, test: str) -> MeasurementTurn:
        return MeasurementTurn(test, True, f"{test}: normal")


class ExactJudge:
    name = "exact"

    async def judge(self, submission: SubmitDiagnosis, key: Any) -> Verdict:
        return Verdict(submission.diagnosis == key.diagnosis, "exact comparison")


class FakeTools:
    def __init__(self, outcome: ToolResult | Exception):
        self.outcome = outcome

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(name="get_thing", description="A thing.")]

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def parts(doctor: Any, tools: Any = None, **settings: Any) -> EncounterParts:
    return EncounterParts(
        scenario_id=SCENARIO.id,
        episode_id="e1",
        case=SCENARIO.case,
        answer=SCENARIO.answer,
        doctor=doctor,
        patient=EchoPatient(),
        measurement=TableMeasurement(),
        judges=[ExactJudge()],
        tools=tools or FakeTools(ToolResult(text="thing")),
        cost_of=lambda test: 10.0,
        settings=EncounterSettings(**settings),
    )


def kinds(events: list[Any]) -> list[str]:
    return [e.kind for e in events]


def test_graph_shape_matches_the_snapshot() -> None:
    drawing = build_graph().get_graph().draw_mermaid()
    assert SNAPSHOT.is_file(), (
        f"{SNAPSHOT} is missing: the graph's shape is checked against the committed drawing "
        "(write build_graph().get_graph().draw_mermaid() there, review it, commit it)"
    )
    expected = SNAPSHOT.read_text()
    for node in ("start", "doctor", "patient", "measurement", "tool", "judge", "finish"):
        assert f"\t{node}(" in expected  # the snapshot is a drawing of this graph
    assert drawing == expected


async def test_each_action_type_routes_to_its_node() -> None:
    doctor = ScriptedDoctor(
        [
            AskPatient(question="Where does it hurt?"),
            OrderTest(test="CBC"),
            CallTool(tool="get_thing", arguments={}),
            SubmitDiagnosis(diagnosis="Myasthenia gravis", differential=["Botulism"]),
        ]
    )
    events = await run_encounter(parts(doctor))
    assert kinds(events) == [
        "episode_started",
        "question_asked",
        "patient_answered",
        "test_ordered",
        "test_reported",
        "tool_called",
        "tool_returned",
        "diagnosis_submitted",
        "diagnosis_judged",
        "episode_ended",
    ]
    assert [e.seq for e in events] == list(range(len(events)))
    assert [e.turn for e in events] == [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert events[-1].reason == TerminationReason.DIAGNOSED
    assert events[-2].match is True


async def test_a_doctor_that_never_diagnoses_hits_the_turn_limit() -> None:
    doctor = ScriptedDoctor([AskPatient(question="Anything else?")], repeat=True)
    events = await run_encounter(parts(doctor, max_turns=7))
    assert sum(e.kind == "question_asked" for e in events) == 7
    assert events[-1].kind == "episode_ended"
    assert events[-1].reason == TerminationReason.TURN_LIMIT
    judged = [e for e in events if e.kind == "diagnosis_judged"]
    assert len(judged) == 1 and judged[0].match is False


async def test_the_default_budget_is_twenty_turns() -> None:
    doctor = ScriptedDoctor([OrderTest(test="CBC")], repeat=True)
    events = await run_encounter(parts(doctor))
    assert sum(e.kind == "test_ordered" for e in events) == 20


async def test_a_diagnosis_on_the_last_turn_counts() -> None:
    doctor = ScriptedDoctor([AskPatient(question="q")] * 2 + [SubmitDiagnosis(diagnosis="x")])
    events = await run_encounter(parts(doctor, max_turns=3))
    assert events[-1].reason == TerminationReason.DIAGNOSED


async def test_budget_exhausted_ends_the_episode() -> None:
    doctor = ScriptedDoctor([OrderTest(test="CT")], repeat=True)
    events = await run_encounter(parts(doctor, budget=25.0))
    assert sum(e.kind == "test_ordered" for e in events) == 3
    assert events[-1].reason == TerminationReason.BUDGET_EXHAUSTED


async def test_script_exhaustion_is_a_protocol_error() -> None:
    events = await run_encounter(parts(ScriptedDoctor([AskPatient(question="q")])))
    assert events[-1].reason == TerminationReason.PROTOCOL_ERROR
    assert "script exhausted" in events[-1].detail


class FailingDoctor:
    async def act(self, view: DoctorView) -> Action:
        record(DoctorReplyRejected(reply="???", error="not an action"))
        raise RoleFailure(TerminationReason.MODEL_ERROR, "server at 127.0.0.1:9 refused")


async def test_a_role_failure_ends_the_episode_with_its_reason() -> None:
    events = await run_encounter(parts(FailingDoctor()))
    assert events[-1].reason == TerminationReason.MODEL_ERROR
    assert events[-1].turn == 1
    assert "refused" in events[-1].detail
    rejected = events[-3]  # what the doctor recorded before failing is kept, then the verdict
    assert isinstance(rejected, DoctorReplyRejected) and rejected.turn == 1


class CountingPatient:
    """Records one event per answer and numbers its calls through the episode context."""

    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        call = current_episode().next_call("patient")
        record(PatientLeakBlocked(reply=f"{call.call_id} for {question}"))
        return PatientTurn("fine")


async def test_roles_record_in_the_episode_context_stamped_with_the_turn() -> None:
    doctor = ScriptedDoctor(
        [AskPatient(question="a"), OrderTest(test="CBC"), AskPatient(question="b")], repeat=True
    )
    encounter = parts(doctor, max_turns=3)
    encounter.patient = CountingPatient()
    events = await run_encounter(encounter)
    blocked = [e for e in events if isinstance(e, PatientLeakBlocked)]
    assert [(e.turn, e.reply) for e in blocked] == [
        (1, "e1:patient:0 for a"),
        (3, "e1:patient:1 for b"),
    ]
    asked = [kinds(events).index("question_asked"), kinds(events).index("patient_leak_blocked")]
    assert asked[0] < asked[1] < kinds(events).index("patient_answered")


async def test_a_tool_error_is_shown_to_the_doctor_and_the_episode_goes_on() -> None:
    doctor = ScriptedDoctor(
        [CallTool(tool="get_thing"), SubmitDiagnosis(diagnosis="Myasthenia gravis")]
    )
    events = await run_encounter(parts(doctor, FakeTools(ToolResult(text="", error="refused: x"))))
    returned = next(e for e in events if e.kind == "tool_returned")
    assert returned.result == "error: refused: x"
    assert events[-1].reason == TerminationReason.DIAGNOSED


async def test_a_crashing_tool_ends_the_episode_as_a_tool_error() -> None:
    doctor = ScriptedDoctor([CallTool(tool="get_thing")])
    events = await run_encounter(parts(doctor, FakeTools(RuntimeError("boom"))))
    assert events[-1].reason == TerminationReason.TOOL_ERROR
    assert "boom" in events[-1].detail


class RecordingDoctor:
    def __init__(self) -> None:
        self.views: list[DoctorView] = []

    async def act(self, view: DoctorView) -> Action:
        self.views.append(view)
        if view.turn < 2:
            return AskPatient(question=f"q{view.turn}")
        return SubmitDiagnosis(diagnosis="x")


async def test_the_doctor_sees_its_history_and_never_the_answer_key() -> None:
    doctor = RecordingDoctor()
    await run_encounter(parts(doctor))
    last = doctor.views[-1]
    assert [x.observation for x in last.history] == ["you asked: q0", "you asked: q1"]
    assert last.turns_left == 18
    names = [t.name for t in last.tools]
    assert names[:3] == ["ask_patient", "order_test", "submit_diagnosis"]
    assert "get_thing" in names
    assert SCENARIO.answer.diagnosis not in repr(last)


async def test_streamed_events_equal_the_returned_events() -> None:
    seen: list[Any] = []
    doctor = ScriptedDoctor([AskPatient(question="q"), SubmitDiagnosis(diagnosis="x")])
    events = await run_encounter(parts(doctor), on_event=seen.append)
    assert seen == events  # numbered and stamped as they happen, not afterwards
    assert [e.seq for e in seen] == list(range(len(seen)))


async def test_the_returned_events_are_the_graph_states_events() -> None:
    script = [AskPatient(question="q"), OrderTest(test="CBC"), CallTool(tool="get_thing")]
    encounter = parts(ScriptedDoctor(script, repeat=True), max_turns=5)
    encounter.patient = CountingPatient()  # records events of its own inside the step
    returned = await run_encounter(encounter)
    again = parts(ScriptedDoctor(script, repeat=True), max_turns=5)
    again.patient = CountingPatient()
    state = await encounter_graph().ainvoke({}, {"recursion_limit": 40}, context=again)
    assert [comparable(e) for e in returned] == [comparable(e) for e in state["events"]]
    assert [e.seq for e in state["events"]] == list(range(len(returned)))


@pytest.mark.parametrize("upfront", [True, False])
async def test_images_can_be_shown_up_front(upfront: bool) -> None:
    from clinsim.scenarios.model import ImageRef

    case = SCENARIO.case.model_copy(update={"images": [ImageRef(id="img", modality="ct")]})
    p = parts(ScriptedDoctor([SubmitDiagnosis(diagnosis="x")]), images_upfront=upfront)
    p.case = case
    events = await run_encounter(p)
    assert ("image_shown" in kinds(events)) is upfront
