"""The fact patient speaks in one voice and stays on the question's topic."""

from __future__ import annotations

import pytest

from clinsim.agents.patients.facts import UNKNOWN, FactPatient, spoken
from clinsim.agents.patients.person import patient_gender, third_person_leftovers
from clinsim.agents.patients.voice import first_person
from clinsim.scenarios.model import PatientFacts
from clinsim.scenarios.sets import bundled_sets, find_scenario, load_scenarios

BUNDLED = tuple(s.name for s in bundled_sets())


@pytest.mark.parametrize(
    ("text", "field", "gender", "said"),
    [
        (
            "She vomited twice and does not want to eat.",
            "history",
            "female",
            "I vomited twice and do not want to eat.",
        ),
        ("Does not want to eat.", "history", None, "I do not want to eat."),
        (
            "He reports chest pain and denies fever.",
            "history",
            "male",
            "I report chest pain and deny fever.",
        ),
        ("The patient denies tobacco use.", "social_history", None, "I deny tobacco use."),
        (
            "His mother reports that he has been doing well.",
            "history",
            "male",
            "My mother reports that I have been doing well.",
        ),
        ("The boy is up to date on vaccines.", "history", "male", "I am up to date on vaccines."),
        (
            "The patient's uncle had similar bleeding.",
            "history",
            "male",
            "My uncle had similar bleeding.",
        ),
        (
            "Non-smoker; drinks alcohol; works with pesticides.",
            "social_history",
            "male",
            "Non-smoker; I drink alcohol; I work with pesticides.",
        ),
        ("Her father has hay fever.", "family_history", "female", "My father has hay fever."),
        (
            "Mother had breast cancer; she died at 60.",
            "family_history",
            "female",
            "Mother had breast cancer; she died at 60.",
        ),
        (
            "She lives with her husband; he drives her to clinic.",
            "social_history",
            "female",
            "I live with my husband; he drives me to clinic.",
        ),
        ("Has grown.", "symptoms.Secondary_Symptoms[0]", "male", "It has grown."),
        (
            "Changes in sleep patterns",
            "symptoms.Secondary_Symptoms[0]",
            "male",
            "Changes in sleep patterns",
        ),
        (
            "Hearing voices discussing her negatively",
            "symptoms",
            "female",
            "Hearing voices discussing me negatively",
        ),
        (
            "The patient, who moved last year, complains of a rash.",
            "history",
            None,
            "I, who moved last year, complain of a rash.",
        ),
    ],
)
def test_third_person_facts_become_first_person(
    text: str, field: str, gender: str | None, said: str
) -> None:
    assert first_person(text, field, gender) == said  # type: ignore[arg-type]
    assert third_person_leftovers(said, gender, field) == []  # type: ignore[arg-type]


def test_the_leftover_check_finds_mixed_persons() -> None:
    assert third_person_leftovers("I vomited twice and does not want to eat.")
    assert third_person_leftovers("The patient reports pain.")
    assert third_person_leftovers("Reports fatigue.")
    assert third_person_leftovers("I has a cough.")
    assert third_person_leftovers("She has a cough.", "female")
    assert not third_person_leftovers("My mother says she has asthma.", "female")
    assert not third_person_leftovers("My wife says she is tired.", "male")


def test_gender_from_the_demographics() -> None:
    assert patient_gender("52-year-old female") == "female"
    assert patient_gender("A 5-year-old boy") == "male"
    assert patient_gender(None) is None


@pytest.mark.slow
def test_no_bundled_fact_is_said_in_the_third_person() -> None:
    """Every fact of every bundled set, as the patient says it (4,800+ MIMIC facts
    included): no third-person reference to the patient is left (441 before the rewrite)."""
    left = []
    for name in BUNDLED:
        for scenario in load_scenarios([name]):
            patient = FactPatient(scenario.case.patient)
            for unit in patient.units:
                said = spoken(unit, patient.gender)
                if third_person_leftovers(said, patient.gender, unit.field):
                    left.append((scenario.id, said))
    assert left == []


def _reply(scenario_id: str, question: str) -> tuple[str, list[str]]:
    scenario = find_scenario(scenario_id)
    key = scenario.answer
    turn = FactPatient(scenario.case.patient, [key.diagnosis, *key.synonyms]).reply(question)
    return turn.answer, turn.facts


def test_family_question_is_not_answered_from_the_patients_own_admissions() -> None:
    assert _reply("mimic-iv-demo/22954658", "Any family history of illness?") == (UNKNOWN, [])
    assert _reply("mimic-iv-demo/22954658", "Do you drink alcohol?") == (UNKNOWN, [])
    assert _reply("mimic-iv-demo/22954658", "Are you married?")[1] == [
        "social_history.Marital_Status"
    ]


def test_topic_facts_are_found_wherever_they_are_written() -> None:
    facts = PatientFacts(
        history="Cough for a month. No family history of lung disease.",
        past_medical_history="Smoked one pack a day for 30 years.",
        social_history="Works in construction.",
        family_history="Mother had a stroke at 70.",
    )
    patient = FactPatient(facts)
    assert patient.reply("Do you smoke?").facts == ["past_medical_history"]
    assert patient.reply("What is your job?").facts == ["social_history"]
    assert set(patient.reply("Any family history of lung problems?").facts) <= {
        "history#1",
        "family_history",
    }
    # the family history answers family questions only
    assert "family_history" not in patient.reply("Have you had a stroke?").facts
    assert FactPatient(PatientFacts(social_history="Married.")).reply("Do you smoke?").facts == []
