"""A person at the terminal plays a role: the graph pauses (interrupt) and resumes."""

from __future__ import annotations

from typing import Any

import pytest

from clinsim.agents.doctors.scripted import ScriptedDoctor
from clinsim.agents.human import HumanDoctor, HumanInputError, HumanPatient, parse_doctor_input
from clinsim.environments.actions import AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.encounter import EncounterParts
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import MeasurementTurn, PatientTurn, Verdict
from clinsim.environments.termination import TerminationReason
from clinsim.environments.tool_spec import ToolResult, ToolSpec
from clinsim.scenarios.sets import find_scenario

SCENARIO = find_scenario("demo/0001")


class Patient:
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        return PatientTurn("It started three days ago.")


class Measurement:
    async def report(self, test: str) -> MeasurementTurn:
        return MeasurementTurn(test, True, f"{test}: raised")


class Judge:
    name = "exact"

    async def judge(self, submission: SubmitDiagnosis, key: Any) -> Verdict:
        return Verdict(submission.diagnosis == key.diagnosis, "exact")


class NoTools:
    def specs(self) -> list[ToolSpec]:
        return []

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(text="", error="none")


def parts(doctor: Any, patient: Any) -> EncounterParts:
    return EncounterParts(
        SCENARIO.id,
        "h1",
        SCENARIO.case,
        SCENARIO.answer,
        doctor,
        patient,
        Measurement(),
        [Judge()],
        NoTools(),
    )


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("When did it start?", AskPatient(question="When did it start?")),
        ("/test Chest X-ray", OrderTest(test="Chest X-ray")),
        (
            "/dx Pneumonia; Bronchitis; PE",
            SubmitDiagnosis(diagnosis="Pneumonia", differential=["Bronchitis", "PE"]),
        ),
        (
            '/tool query_ehr {"sql": "select 1"}',
            CallTool(tool="query_ehr", arguments={"sql": "select 1"}),
        ),
    ],
)
def test_doctor_input_becomes_a_typed_action(text: str, action: Any) -> None:
    assert parse_doctor_input(text) == action


@pytest.mark.parametrize("text", ["", "/dx", "/test", "/tool x {bad", "/frobnicate"])
def test_bad_doctor_input_is_refused(text: str) -> None:
    with pytest.raises(HumanInputError):
        parse_doctor_input(text)


async def test_a_human_doctor_plays_an_episode_through_interrupts() -> None:
    replies = iter(
        ["When did it start?", "/nonsense", "/test CRP", "/dx Community-acquired pneumonia"]
    )
    prompts: list[dict[str, Any]] = []

    async def respond(prompt: dict[str, Any]) -> str:
        prompts.append(prompt)
        return next(replies)

    events = await run_encounter(parts(HumanDoctor(), Patient()), respond=respond)
    kinds = [e.kind for e in events]
    assert kinds.count("question_asked") == 1 and kinds.count("test_ordered") == 1
    assert [e.seq for e in events] == list(range(len(events)))  # each pause resumed in place
    assert [(e.kind, e.turn) for e in events][:5] == [
        ("episode_started", 0),
        ("question_asked", 1),
        ("patient_answered", 1),
        ("test_ordered", 2),
        ("test_reported", 2),
    ]
    assert events[-1].reason == TerminationReason.DIAGNOSED
    assert next(e for e in events if e.kind == "diagnosis_judged").match is True
    assert prompts[0]["role"] == "doctor" and prompts[0]["text"] == SCENARIO.case.objective
    assert prompts[1]["text"] == "It started three days ago."
    assert "unknown command" in prompts[2]["text"]


async def test_a_human_patient_answers_the_doctor() -> None:
    doctor = ScriptedDoctor([AskPatient(question="Any allergies?"), SubmitDiagnosis(diagnosis="x")])

    async def respond(prompt: dict[str, Any]) -> str:
        assert prompt == {
            "role": "patient",
            "text": "Any allergies?",
            "help": "answer as the patient",
        }
        return "Penicillin gives me a rash."

    events = await run_encounter(parts(doctor, HumanPatient()), respond=respond)
    answered = next(e for e in events if e.kind == "patient_answered")
    assert answered.answer == "Penicillin gives me a rash."
