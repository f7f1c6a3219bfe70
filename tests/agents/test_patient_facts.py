"""The fact-grounded patient: answers from the facts, says when it does not know, never
names the diagnosis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import snowballstemmer

from clinsim.agents.models.registry import ModelPool
from clinsim.agents.patients.facts import UNKNOWN, FactPatient
from clinsim.agents.patients.voice import first_person, word_set
from clinsim.agents.registry import AgentOptions, make_agent
from clinsim.environments.measurement import NORMAL_READINGS, LookupMeasurement
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.model import PatientFacts, Scenario
from clinsim.scenarios.sets import bundled_sets, load_report

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "agentclinic"

FACTS = PatientFacts(
    demographics="35-year-old female",
    history=(
        "The patient reports a 1-month history of double vision and difficulty climbing "
        "stairs. She notes that these symptoms worsen after activity and improve with rest."
    ),
    symptoms={
        "Primary_Symptom": "Double vision",
        "Secondary_Symptoms": ["Difficulty climbing stairs", "Weakness in upper limbs"],
    },
    past_medical_history="Hypothyroidism diagnosed 5 years ago.",
    social_history="Non-smoker, drinks wine occasionally. Works as a graphic designer.",
    family_history="Her mother has rheumatoid arthritis.",
    review_of_systems="Denies fever, chest pain or shortness of breath.",
    medications=["Levothyroxine 50 mcg daily"],
    allergies="Penicillin (rash).",
)

QUESTIONS = [
    "What brings you in today?",
    "How old are you?",
    "Do you smoke?",
    "Do you drink alcohol?",
    "What do you do for work?",
    "Are you taking any medications?",
    "Do you have any allergies?",
    "Does anyone in your family have medical problems?",
    "Do you have any past medical history?",
    "When did this start?",
    "Any other symptoms?",
    "Have you had a fever?",
    "Do you have any pain?",
    "What do you think is wrong with you?",
    "Has a doctor told you what this is?",
]


def reply(question: str, facts: PatientFacts = FACTS) -> tuple[str, list[str]]:
    turn = FactPatient(facts).reply(question)
    return turn.answer, turn.facts


@pytest.mark.parametrize(
    ("question", "paths", "says"),
    [
        ("How old are you?", ["demographics"], "I am a 35-year-old female."),
        ("Do you smoke?", ["social_history#0"], "Non-smoker, drinks wine occasionally."),
        ("What do you do for a living?", ["social_history#1"], "I work as a graphic designer."),
        ("Are you taking any medications?", ["medications[0]"], "Levothyroxine 50 mcg daily."),
        ("Are you allergic to anything?", ["allergies"], "Penicillin (rash)."),
        ("Any illnesses in your family?", ["family_history"], "My mother has rheumatoid"),
        ("Have you had a fever?", ["review_of_systems"], "I deny fever, chest pain"),
        ("Any past medical history?", ["past_medical_history"], "Hypothyroidism diagnosed"),
    ],
)
def test_questions_are_routed_to_the_right_facts(
    question: str, paths: list[str], says: str
) -> None:
    answer, used = reply(question)
    assert used == paths
    assert answer.startswith(says)


def test_chief_complaint_in_the_first_person() -> None:
    answer, used = reply("What brings you in today?")
    assert used == ["history#0", "symptoms.Primary_Symptom"]
    assert answer == (
        "I report a 1-month history of double vision and difficulty climbing stairs. Double vision."
    )
    answer, _ = reply("Does it get better with rest?")
    assert answer == "I note that these symptoms worsen after activity and improve with rest."


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "What's your favourite film?", "Hello", "Do you own a car?"],
)
def test_says_it_does_not_know_when_nothing_is_relevant(question: str) -> None:
    assert reply(question) == (UNKNOWN, [])


def test_missing_fields_are_not_invented() -> None:
    sparse = PatientFacts(demographics="60-year-old man", history="Cough for 3 weeks.")
    assert reply("Do you smoke?", sparse) == (UNKNOWN, [])
    assert reply("Any allergies?", sparse) == (UNKNOWN, [])
    assert reply("How long have you had the cough?", sparse)[0] == "Cough for 3 weeks."
    notes = PatientFacts(social_history="Information not provided.")
    assert reply("Do you smoke?", notes) == (UNKNOWN, [])


def test_at_most_three_facts_per_answer() -> None:
    _, used = reply("Tell me about your symptoms: vision, stairs, weakness, fever, pain")
    assert 1 <= len(used) <= 3


def test_facts_that_name_the_diagnosis_are_never_said() -> None:
    facts = PatientFacts(
        history="I was told last year that I might have myasthenia gravis (MG). My eyes droop.",
        past_medical_history="Myasthenia Gravis, diagnosed 2019.",
    )
    patient = FactPatient(facts, forbidden=["Myasthenia gravis (MG)"])
    for question in [*QUESTIONS, "Do you have myasthenia gravis?", "Any eye problems?"]:
        assert "myasthenia" not in patient.reply(question).answer.lower()
    assert patient.reply("Any eye problems?").answer == "My eyes droop."


def test_first_person_rewrites() -> None:
    assert first_person("She has been on natalizumab and reports new weakness.") == (
        "I have been on natalizumab and report new weakness."
    )
    assert first_person("His wife found him unconscious.") == "My wife found me unconscious."
    assert first_person("You've been told you have anemia, which tires you.") == (
        "I've been told I have anemia, which tires me."
    )
    assert first_person("8-month-old boy", "demographics") == "I am an 8-month-old boy"
    assert first_person("Non-smoker.") == "Non-smoker."


def test_second_person_role_texts_of_nejm_cases() -> None:
    facts = PatientFacts(
        history="For your role as a patient, you are a 61-year-old man. For two weeks you have "
        "noticed a painless lump on your lower lip. Remember, you do not know your diagnosis."
    )
    answer = reply("How long have you had the lump?", facts)[0]
    assert answer == "For two weeks I have noticed a painless lump on my lower lip."
    assert all("Remember" not in FactPatient(facts).reply(q).answer for q in QUESTIONS)


def test_answers_are_deterministic() -> None:
    first = [FactPatient(FACTS).reply(q) for q in QUESTIONS]
    second = [FactPatient(FACTS).reply(q) for q in QUESTIONS]
    assert first == second


async def test_answer_is_the_async_protocol_method() -> None:
    turn = await FactPatient(FACTS).answer("How old are you?", [("Hi", "Hello")])
    assert turn.facts == ["demographics"] and turn.events == []


# ------------------------------------------------------------ scans over real scenarios

_VOICE_WORDS = word_set("i my me myself am have mine deny a an ve m was do haven don t it")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


_STEMMER = snowballstemmer.stemmer("english")


def _stem_free(word: str) -> str:
    """Verb endings change when a fact is said in the first person ("reports" -> "report")."""
    return str(_STEMMER.stemWord(word))


def _normal(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _diagnosis_names(scenario: Scenario) -> list[str]:
    names = []
    for name in [scenario.answer.diagnosis, *scenario.answer.synonyms]:
        for variant in (name, re.sub(r"\([^)]*\)", " ", name)):
            if _normal(variant).strip():
                names.append(_normal(variant))
    return names


def _scan(scenarios: list[Scenario]) -> list[str]:
    problems = []
    for scenario in scenarios:
        patient = FactPatient(
            scenario.case.patient,
            forbidden=[scenario.answer.diagnosis, *scenario.answer.synonyms],
        )
        source = {_stem_free(w) for w in _words(scenario.case.patient.model_dump_json())}
        for question in QUESTIONS:
            turn = patient.reply(question)
            if turn.answer == UNKNOWN:
                assert turn.facts == []
                continue
            said = {_stem_free(w) for w in _words(turn.answer)}
            invented = said - source - {_stem_free(w) for w in _VOICE_WORDS}
            if invented:
                problems.append(f"{scenario.id} {question!r}: words not in facts {invented}")
            if any(name in _normal(turn.answer) for name in _diagnosis_names(scenario)):
                problems.append(f"{scenario.id} {question!r}: names the diagnosis")
            known = {unit.path for unit in patient.units}
            if not turn.facts or not set(turn.facts) <= known or len(turn.facts) > 3:
                problems.append(f"{scenario.id} {question!r}: facts {turn.facts}")
    return problems


@pytest.mark.parametrize("set_name", [s.name for s in bundled_sets()])
def test_bundled_scenarios_answers_are_grounded_and_never_name_the_diagnosis(
    set_name: str,
) -> None:
    assert _scan(load_report(set_name).scenarios) == []


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} not present")
def test_nejm_scenarios_answers_are_grounded_and_never_name_the_diagnosis() -> None:
    assert _scan(load_file(SHARED / "agentclinic_nejm_extended.jsonl").scenarios) == []


# ------------------------------------------------------------ registry


def _scenario() -> Scenario:
    return load_report("agentclinic-medqa").scenarios[0]


def test_registered_as_patient_facts_and_measurement_lookup(tmp_path: Path) -> None:
    scenario = _scenario()
    pool = ModelPool()
    patient = make_agent("patient", "facts", scenario, "ep", 0, AgentOptions(), pool)
    assert isinstance(patient, FactPatient)
    measurement = make_agent("measurement", "lookup", scenario, "ep", 0, AgentOptions(), pool)
    assert isinstance(measurement, LookupMeasurement)
    assert measurement.lookup("no such test at all").result != NORMAL_READINGS

    prices = tmp_path / "prices.json"
    prices.write_text('{"default_cost": 3, "categories": []}')
    options = AgentOptions(normal_readings=True, prices=str(prices))  # type: ignore[call-arg]
    resources: dict[str, object] = {}
    compatible = make_agent("measurement", "lookup", scenario, "ep", 0, options, pool, resources)
    assert compatible.lookup("no such test at all").result == NORMAL_READINGS
    assert compatible.cost_of("Chest CT") == 3
    assert len(resources) == 1  # the price file is read once per run
