"""A MIMIC-IV admission with a discharge summary has a patient who can tell their story.

The same admission is played twice with the fact patient and a doctor that asks the usual
opening questions: built from the EHR alone (`mimic-iv-demo`), the patient is "not sure" about
symptoms; built with the note (`mimic-iv-demo-notes`), it answers from the chief complaint,
history, social and family history, and the examination and imaging come from the note too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clinsim.agents.doctors.scripted import ScriptedDoctor
from clinsim.agents.patients.facts import UNKNOWN
from clinsim.environments.actions import AskPatient, OrderTest, SubmitDiagnosis
from clinsim.environments.graph import run_encounter
from clinsim.runner import RunConfig, Runner
from clinsim.scenarios.sets import find_scenario
from clinsim.store import RunStore

QUESTIONS = [
    "What brings you in today?",
    "Any chest pain?",
    "Do you smoke?",
    "Does anyone in your family have heart problems?",
    "Do you drink alcohol?",
    "What medications do you take?",
]


def play(scenario_id: str, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    scenario = find_scenario(scenario_id)
    runner = Runner(RunConfig(max_turns=20), RunStore(tmp_path / scenario_id.split("/")[0]), "r")
    parts = runner.parts(scenario, scenario.id, 0)
    actions = [AskPatient(question=q) for q in QUESTIONS]
    actions += [OrderTest(test="Cardiac exam"), OrderTest(test="Chest X-ray")]
    parts.doctor = ScriptedDoctor([*actions, SubmitDiagnosis(diagnosis="undetermined")])
    events = asyncio.run(run_encounter(parts))
    answers = {
        q: e.answer
        for q, e in zip(QUESTIONS, [e for e in events if e.kind == "patient_answered"], strict=True)
    }
    results = {e.test: e.result for e in events if e.kind == "test_reported"}
    return answers, results


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINSIM_CACHE", str(tmp_path / "cache"))


def test_the_note_patient_answers_symptom_questions(tmp_path: Path) -> None:
    answers, results = play("mimic-iv-demo-notes/22954658", tmp_path)
    assert answers["What brings you in today?"].startswith(
        "I am a 48-year-old man with GERD and no known heart disease who presents with chest pain."
    )
    assert "chest pain" in answers["Any chest pain?"]
    assert answers["Do you smoke?"] == "Tobacco: I smoke 1 pack per day for 25 years."
    family = answers["Does anyone in your family have heart problems?"]
    assert "Father had a heart attack at age 52" in family
    assert answers["Do you drink alcohol?"] == "EtOH: 2-3 beers on weekends."
    assert "Omeprazole 20 mg PO DAILY" in answers["What medications do you take?"]
    assert UNKNOWN not in answers.values()
    assert "regular rate and rhythm" in results["Cardiac exam"]
    assert "No acute cardiopulmonary process." in results["Chest X-ray"]


def test_without_the_note_the_same_admission_has_no_story(tmp_path: Path) -> None:
    answers, results = play("mimic-iv-demo/22954658", tmp_path)
    assert answers["Any chest pain?"] == UNKNOWN
    assert answers["Does anyone in your family have heart problems?"] == UNKNOWN
    assert results["Chest X-ray"] == "Test not available for this patient."


def test_other_note_patients_answer_from_their_own_note(tmp_path: Path) -> None:
    answers, _ = play("mimic-iv-demo-notes/28909879", tmp_path)
    assert "a pint of vodka daily" in answers["Do you drink alcohol?"]
    assert answers["Do you smoke?"] == "Tobacco: I smoke half a pack per day."
    answers, _ = play("mimic-iv-demo-notes/25797028", tmp_path)
    assert "passing out at home" in answers["What brings you in today?"]
    assert "I deny chest pain, palpitations" in answers["Any chest pain?"]
    assert answers["Do you smoke?"].startswith("Never smoked.")
