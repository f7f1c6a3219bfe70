"""The LLM patient, judge and measurement reader, call recording, the registered factories, and
a whole encounter played by LLM agents on fake models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pytest
from episodes import in_episode
from llm_fakes import FakeModel, FakePool
from pydantic import JsonValue

from clinsim.agents.factories import (
    DOCTORS,
    JUDGES,
    MEASUREMENTS,
    PATIENTS,
    AgentRequest,
    find_factory,
)
from clinsim.agents.llm.factories import llm_judge, llm_measurement, llm_patient
from clinsim.agents.llm.judge import LLMJudge
from clinsim.agents.llm.measurement import LLMMeasurement, read_report
from clinsim.agents.llm.patient import (
    NEUTRAL_ANSWER,
    LLMPatient,
    leak_matcher,
    patient_profile,
)
from clinsim.agents.llm.recording import call_model
from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelError,
    ToolCall,
    Usage,
)
from clinsim.environments.actions import ORDER_TEST, SubmitDiagnosis
from clinsim.environments.context import Episode, ModelCall, current_call
from clinsim.environments.encounter import EncounterParts
from clinsim.environments.events import ModelCalled, PatientLeakBlocked
from clinsim.environments.factories import Role
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import RoleFailure
from clinsim.environments.termination import TerminationReason
from clinsim.environments.tool_spec import ToolResult, ToolSpec
from clinsim.plugins import Factory
from clinsim.scenarios.model import AnswerKey, Case, PatientFacts, Provenance, Scenario

T = TypeVar("T")
SECRET = "Zorblaxitis"


SCENARIO = Scenario(
    id="test/1",
    case=Case(
        objective="Evaluate the patient with joint pain.",
        patient=PatientFacts(
            demographics="52-year-old man",
            history="Two days of pain in the big toe.",
            symptoms={"Primary_Symptom": "toe pain", "Secondary_Symptoms": ["redness", "warmth"]},
            social_history="Drinks beer most evenings",
            other={"Diet": "lots of red meat"},
        ),
        exam={"Joint_Exam": {"Right_First_MTP": "swollen, erythematous, tender"}},
        tests={"Serum_Uric_Acid": "9.8 mg/dL", "Joint_Aspiration": "needle-shaped crystals"},
    ),
    answer=AnswerKey(diagnosis=f"Acute {SECRET} (AZ)", synonyms=["Podagra variant Q"]),
    provenance=Provenance(source="test"),
)


def make(factory: Factory[AgentRequest, T], role: Role, model: FakeModel, **settings: Any) -> T:
    """The role as its factory builds it for SCENARIO, played by `model`."""
    request = AgentRequest(role, model.address, SCENARIO, 3, FakePool(model))
    return factory.build(request, factory.configure(settings))


def sent_text(model: FakeModel) -> str:
    return json.dumps([r.model_dump(mode="json") for r in model.requests]).lower()


# ------------------------------------------------------------------ recording


async def test_call_model_records_everything_needed_to_replay() -> None:
    reply = ChatResponse(
        text="Sure.",
        tool_calls=[ToolCall(id="1", name="order_test", arguments={"test": "CBC"})],
        usage=Usage(prompt_tokens=20, completion_tokens=5),
        thinking="weighing options",
        finish_reason="stop",
        retries=["HTTP 503, retried after 0.5 s"],
    )
    model = FakeModel(reply, address="openai/medgemma")
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="Hello")],
        tools=[ORDER_TEST],
        temperature=0.2,
        max_tokens=64,
        seed=11,
    )
    episode = Episode("ep-7")
    with episode.step(1):  # four earlier doctor calls in this episode
        for _ in range(4):
            episode.next_call("doctor")
    seen: list[ModelCall | None] = []
    model.on_request = lambda _request: seen.append(current_call())
    with episode.step(2) as events:
        response = await call_model(model, request, "doctor")
    assert response is reply
    assert seen == [ModelCall("ep-7", "doctor", 4)]  # what replay matches the call on
    [event] = events
    assert isinstance(event, ModelCalled)
    assert event.call_id == "ep-7:doctor:4" and event.role == "doctor" and event.turn == 2
    assert event.model == "openai/medgemma"
    assert event.messages == [m.model_dump(mode="json") for m in request.messages]
    assert event.params == {
        "temperature": 0.2,
        "max_tokens": 64,
        "seed": 11,
        "stop": None,
        "tools": ["order_test"],
    }
    assert event.output == "Sure."
    assert event.tool_calls == [{"id": "1", "name": "order_test", "arguments": {"test": "CBC"}}]
    assert event.usage == {"prompt_tokens": 20, "completion_tokens": 5}
    assert event.retries == ["HTTP 503, retried after 0.5 s"]
    assert (event.thinking, event.finish_reason, event.error) == ("weighing options", "stop", None)
    assert event.latency_s >= 0


async def test_call_model_turns_a_model_error_into_a_recorded_role_failure() -> None:
    error = ModelError("connection refused")
    error.retries = ["attempt 1: connection refused"]  # type: ignore[attr-defined]
    model = FakeModel(error, address="openai/x")
    request = ChatRequest(messages=[ChatMessage(role="user", content="Hi")])
    with in_episode("ep-2") as events, pytest.raises(RoleFailure) as info:
        await call_model(model, request, "patient")
    assert info.value.reason is TerminationReason.MODEL_ERROR
    assert info.value.detail == "patient model openai/x failed: connection refused"
    [event] = events
    assert isinstance(event, ModelCalled)
    assert (event.error, event.call_id, event.output) == (
        "connection refused",
        "ep-2:patient:0",
        "",
    )
    assert event.retries == ["attempt 1: connection refused"]


# ------------------------------------------------------------------ patient


def test_patient_profile_renders_the_facts_compactly() -> None:
    profile = patient_profile(SCENARIO.case.patient)
    assert "Demographics: 52-year-old man" in profile
    assert (
        "Symptoms:\n  Primary Symptom: toe pain\n  Secondary Symptoms: redness; warmth" in profile
    )
    assert "Diet: lots of red meat" in profile
    assert "Medications" not in profile  # empty fields are left out


@pytest.mark.parametrize(
    ("reply", "leaks"),
    [
        (f"I read it might be acute {SECRET}.", True),
        (f"Is it {SECRET.upper()}?!", True),
        (f"maybe acute-{SECRET.lower()}...", True),
        ("My friend said podagra variant q.", True),
        (f"{SECRET}oid sounds scary", False),
        ("It hurts when I walk.", False),
    ],
)
def test_leak_check_uses_normalised_containment(reply: str, leaks: bool) -> None:
    matcher = leak_matcher(SCENARIO.answer.diagnosis, SCENARIO.answer.synonyms)
    assert matcher.found_in(reply) is leaks


async def test_patient_answers_in_character_from_its_facts() -> None:
    model = FakeModel("  It started two days ago.  ")
    patient = make(llm_patient, "patient", model)
    with in_episode() as events:
        turn = await patient.answer("When did it start?", [("Hello?", "Hi doctor.")])
    assert turn.answer == "It started two days ago."
    [called] = events
    assert isinstance(called, ModelCalled) and called.call_id == "ep-1:patient:0"
    messages = model.requests[0].messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "only responds in the form of dialogue" in messages[0].content
    assert "1-3 sentences" in messages[0].content and "never name" in messages[0].content
    assert "Drinks beer" in messages[0].content
    assert messages[-1].content == "When did it start?"
    assert SECRET.lower() not in sent_text(model)


async def test_a_leaking_reply_is_regenerated_and_recorded() -> None:
    model = FakeModel(f"Doctor, I am sure it is acute {SECRET}.", "My toe is red and hot.")
    patient = make(llm_patient, "patient", model)
    with in_episode() as events:
        turn = await patient.answer("What do you think it is?", [])
    assert turn.answer == "My toe is red and hot."
    assert [e.kind for e in events] == ["model_called", "patient_leak_blocked", "model_called"]
    blocked = events[1]
    assert isinstance(blocked, PatientLeakBlocked) and SECRET in blocked.reply
    first, second = model.requests
    assert "do not name any disease" in second.messages[0].content
    assert (first.seed, second.seed) == (3, 4)
    assert second.temperature >= 0.7
    assert SECRET.lower() not in sent_text(model)  # the leaked reply is never sent back


async def test_a_patient_that_keeps_leaking_says_it_is_not_sure() -> None:
    model = FakeModel(*[f"It's {SECRET}."] * 3)
    patient = make(llm_patient, "patient", model)
    with in_episode() as events:
        turn = await patient.answer("What is it?", [])
    assert turn.answer == NEUTRAL_ANSWER
    assert [e.kind for e in events].count("patient_leak_blocked") == 3
    assert len(model.requests) == 3


async def test_patient_bias_goes_into_the_system_prompt() -> None:
    model = FakeModel("Fine.")
    patient = make(llm_patient, "patient", model, bias="self_diagnosis")
    with in_episode():
        await patient.answer("How are you?", [])
    assert "convinced you have cancer" in model.requests[0].messages[0].content


async def test_patient_model_error_is_a_role_failure() -> None:
    model = FakeModel(f"It's {SECRET}.", ModelError("timeout"))
    patient = LLMPatient(model, SCENARIO.case.patient, leak_matcher(SECRET))
    with in_episode() as events, pytest.raises(RoleFailure):
        await patient.answer("What is it?", [])
    assert [e.kind for e in events] == [
        "model_called",
        "patient_leak_blocked",
        "model_called",
    ]


# ------------------------------------------------------------------ judge


async def test_judge_returns_a_verdict_with_its_reason_and_call() -> None:
    model = FakeModel("**Yes** - the same disease under another name.", address="openai/judge")
    judge = make(llm_judge, "judge", model)
    assert judge.name == "llm:openai/judge"
    with in_episode() as events:
        verdict = await judge.judge(
            SubmitDiagnosis(diagnosis="Gout"),
            AnswerKey(diagnosis="Podagra", synonyms=["Gouty arthritis"]),
        )
    assert (verdict.match, verdict.rank) == (True, 1)
    assert verdict.reason == "the same disease under another name."
    [called] = events
    assert isinstance(called, ModelCalled) and called.role == "judge"
    prompt = model.requests[0].messages[1].content
    assert "correct diagnosis: Podagra (also called: Gouty arthritis)" in prompt


async def test_judge_asks_again_when_the_reply_is_unclear() -> None:
    model = FakeModel("Hard to say.", "No, different joints.")
    with in_episode() as events:
        verdict = await LLMJudge(model).judge(
            SubmitDiagnosis(diagnosis="Septic arthritis"), AnswerKey(diagnosis="Gout")
        )
    assert (verdict.match, verdict.rank, verdict.reason) == (False, None, "different joints.")
    assert len(events) == 2
    retry = model.requests[1].messages
    assert [m.role for m in retry[-2:]] == ["assistant", "user"]


async def test_a_graded_judge_asks_for_a_grade_and_reports_it() -> None:
    model = FakeModel("Maybe.", "More specific: the disease with its cause.")
    judge = make(llm_judge, "judge", model, graded=True)
    with in_episode():
        verdict = await judge.judge(
            SubmitDiagnosis(diagnosis="Alcoholic cirrhosis"), AnswerKey(diagnosis="Cirrhosis")
        )
    assert (verdict.match, verdict.grade, verdict.rank) == (True, "more_specific", 1)
    assert verdict.reason == "the disease with its cause."
    first, retry = model.requests
    assert "more_specific (a subtype" in first.messages[0].content
    assert "one grade first" in retry.messages[-1].content
    model = FakeModel("Related - type 1 against type 2.")
    judge = make(llm_judge, "judge", model, graded=True)
    with in_episode():
        verdict = await judge.judge(
            SubmitDiagnosis(diagnosis="Type 1 diabetes"), AnswerKey(diagnosis="Type 2 diabetes")
        )
    assert (verdict.match, verdict.grade, verdict.rank) == (False, "related", None)


async def test_judge_gives_up_with_a_model_error_after_bounded_retries() -> None:
    model = FakeModel("Hmm.", "Perhaps.", "Unclear.")
    judge = LLMJudge(model, retries=2)
    with in_episode() as events, pytest.raises(RoleFailure) as info:
        await judge.judge(SubmitDiagnosis(diagnosis="X"), AnswerKey(diagnosis="Y"))
    assert info.value.reason is TerminationReason.MODEL_ERROR
    assert "no verdict after 2 retries" in info.value.detail
    assert len(events) == 3


# ------------------------------------------------------------------ measurement


@pytest.mark.parametrize(
    ("reply", "available", "result"),
    [
        ("RESULTS: 9.8 mg/dL", True, "9.8 mg/dL"),
        ("**Results:** needle-shaped crystals", True, "needle-shaped crystals"),
        ("Uric acid 9.8 mg/dL", True, "Uric acid 9.8 mg/dL"),
        ("NORMAL READINGS", False, "NORMAL READINGS"),
        ("RESULTS: normal readings.", False, "NORMAL READINGS"),
        ("", False, "NORMAL READINGS"),
    ],
)
def test_measurement_reports_are_read(reply: str, available: bool, result: str) -> None:
    assert read_report(reply) == (available, result)


async def test_measurement_reader_sees_the_case_results_but_not_the_answer() -> None:
    model = FakeModel("RESULTS: 9.8 mg/dL")
    reader = make(llm_measurement, "measurement", model)
    assert isinstance(reader, LLMMeasurement)
    with in_episode():
        turn = await reader.report("Serum uric acid")
    assert (turn.available, turn.result, turn.matched) == (True, "9.8 mg/dL", None)
    system = model.requests[0].messages[0].content
    assert "needle-shaped crystals" in system and "Right First MTP" in system
    assert "NORMAL READINGS" in system
    assert model.requests[0].messages[1].content == "The doctor requests: Serum uric acid"
    assert SECRET.lower() not in sent_text(model)


# ------------------------------------------------------------------ registry


def test_any_model_address_gets_the_llm_agents() -> None:
    expected = {
        "doctor": "LLMDoctor",
        "patient": "LLMPatient",
        "measurement": "LLMMeasurement",
        "judge": "LLMJudge",
    }
    pool = FakePool(FakeModel())
    for role, cls in expected.items():
        registry = {"doctor": DOCTORS, "patient": PATIENTS, "measurement": MEASUREMENTS}.get(
            role, JUDGES
        )
        made = find_factory(registry, "openai/m")  # type: ignore[arg-type]
        assert made.name == "llm"
        agent = made.build(AgentRequest(role, "openai/m", SCENARIO, 1, pool), made.configure())  # type: ignore[arg-type]
        assert type(agent).__name__ == cls


def test_an_unknown_bias_name_fails_when_the_agent_is_made() -> None:
    with pytest.raises(ValueError, match="unknown patient bias 'recency2'"):
        make(llm_patient, "patient", FakeModel(), bias="recency2")


# ------------------------------------------------------------------ a whole encounter


class NoTools:
    def specs(self) -> list[ToolSpec]:
        return []

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolResult:
        return ToolResult(text="", error="no tools here")


def encounter_parts(
    doctor: FakeModel, patient: FakeModel, reader: FakeModel, judge: FakeModel
) -> EncounterParts:
    from clinsim.agents.llm.factories import llm_doctor

    return EncounterParts(
        scenario_id=SCENARIO.id,
        episode_id="ep-1",
        case=SCENARIO.case,
        answer=SCENARIO.answer,
        doctor=make(llm_doctor, "doctor", doctor),
        patient=make(llm_patient, "patient", patient),
        measurement=make(llm_measurement, "measurement", reader),
        judges=[make(llm_judge, "judge", judge)],
        tools=NoTools(),
    )


async def test_an_encounter_played_by_llm_agents_records_every_call() -> None:
    doctor = FakeModel(
        '{"action": "ask_patient", "question": "Where does it hurt?"}',
        "oops, not json",
        '{"action": "order_test", "test": "Serum uric acid"}',
        '{"action": "submit_diagnosis", "diagnosis": "Gout", "differential": ["Septic arthritis"]}',
    )
    patient = FakeModel("My big toe.")
    reader = FakeModel("RESULTS: 9.8 mg/dL")
    judge = FakeModel("No.")
    events = await run_encounter(encounter_parts(doctor, patient, reader, judge))
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert [c.role for c in calls] == [
        "doctor",
        "patient",
        "doctor",
        "doctor",
        "measurement",
        "doctor",
        "judge",
    ]
    assert len({c.call_id for c in calls}) == len(calls)
    assert [e.kind for e in events][-4:] == [
        "diagnosis_submitted",
        "model_called",
        "diagnosis_judged",
        "episode_ended",
    ]
    judged = events[-2]
    assert judged.kind == "diagnosis_judged" and judged.judge == "llm:fake/m"
    assert judged.match is False
    ended = events[-1]
    assert ended.kind == "episode_ended" and ended.reason is TerminationReason.DIAGNOSED
    assert any(e.kind == "doctor_reply_rejected" for e in events)
    # the doctor's third request shows the patient's answer and the measurement's result
    last_doctor = doctor.requests[-1].messages
    text = "\n".join(m.content for m in last_doctor)
    assert "Patient: My big toe." in text and "Result of Serum uric acid: 9.8 mg/dL" in text
    for model in (doctor, patient, reader):
        assert SECRET.lower() not in sent_text(model)


async def test_a_dead_patient_model_ends_the_episode_with_a_model_error() -> None:
    doctor = FakeModel('{"action": "ask_patient", "question": "Where does it hurt?"}')
    patient = FakeModel(ModelError("HTTP 500"))
    events = await run_encounter(encounter_parts(doctor, patient, FakeModel(), FakeModel()))
    ended = events[-1]
    assert ended.kind == "episode_ended" and ended.reason is TerminationReason.MODEL_ERROR
    failed = [e for e in events if isinstance(e, ModelCalled) and e.error]
    assert [(e.role, e.error) for e in failed] == [("patient", "HTTP 500")]
