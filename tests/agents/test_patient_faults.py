"""Simulator-fault checks: what counts as a fault of the patient or the measurement, and what
does not."""

from __future__ import annotations

from clinsim.agents.patients.faults import SimulatorMonitor, says_unknown, withheld_paths
from clinsim.environments.events import PatientLeakBlocked
from clinsim.environments.faults import FaultSummary, MeasurementCheck, spoiled
from clinsim.environments.measurement import NOT_AVAILABLE, LookupMeasurement
from clinsim.environments.roles import MeasurementTurn, PatientTurn
from clinsim.scenarios.model import Case, PatientFacts

CASE = Case(
    objective="Diagnose.",
    patient=PatientFacts(
        demographics="67-year-old man",
        history="Three days of fever and a productive cough.",
        past_medical_history="Type 2 diabetes. Known sarcoidosis.",
        social_history="Smoked 30 pack-years. Retired bus driver.",
        medications=["Metformin 1000 mg twice daily"],
    ),
    tests={
        "Blood_Tests": {"Ferritin": "300 ng/mL", "ESR": "40 mm/h"},
        "Urine_Toxicology": "Negative",
        "Biopsy": "Stromal overgrowth in a breast mass.",
    },
    exam={"Vital_Signs": {"Oxygen_Saturation": "91%"}},
)


def _faults(question: str, answer: str, facts: list[str] | None = None) -> list[str]:
    turn = PatientTurn(answer=answer, facts=facts or [])
    return [f.fault for f in SimulatorMonitor(CASE).after_answer(question, turn)]


def test_not_knowing_what_a_fact_answers_is_a_fault() -> None:
    assert _faults("Do you smoke?", "I'm not sure.") == ["unknown_despite_fact"]
    assert _faults("Do you smoke?", "Hmm, I don't know, doctor.") == ["unknown_despite_fact"]


def test_not_knowing_what_no_fact_answers_is_not() -> None:
    assert _faults("Any allergies?", "I'm not sure.") == []
    assert _faults("Does anyone in your family have heart disease?", "I don't know.") == []
    assert _faults("Do you drink alcohol?", "I'm not sure about that.") == []


def test_a_fact_that_names_the_diagnosis_may_be_withheld() -> None:
    withheld = withheld_paths(CASE.patient, ["Sarcoidosis"])
    assert withheld == frozenset({"past_medical_history#1"})
    monitor = SimulatorMonitor(CASE, withheld)
    turn = PatientTurn(answer="I'm not sure.")
    assert monitor.after_answer("Any lung disease like sarcoidosis?", turn) == []


def test_answers_from_another_topic() -> None:
    family = "Does anyone in your family have heart disease?"
    # an LLM patient: no fact paths; the reply's words match the medications
    assert _faults(family, "I take metformin 1000 mg twice daily.") == ["off_topic_answer"]
    # the fact patient: the paths it used
    assert _faults(family, "Type 2 diabetes.", ["past_medical_history#0"]) == ["off_topic_answer"]
    assert _faults("Do you smoke?", "Yes, I smoked 30 pack-years.") == []
    assert _faults("Do you smoke?", "No.") == []
    assert _faults("Do you have a fever?", "Type 2 diabetes.", ["past_medical_history#0"]) == []


def test_third_person_and_withheld_replies() -> None:
    assert _faults("What brings you in?", "The patient has a cough.") == ["third_person"]
    assert _faults("What brings you in?", "I cough and has a fever.") == ["third_person"]
    turn = PatientTurn(answer="I cough.", events=[PatientLeakBlocked(reply="I have X.")] * 2)
    faults = SimulatorMonitor(CASE).after_answer("What brings you in?", turn)
    assert [f.fault for f in faults] == ["leak_regenerated"]
    assert faults[0].evidence == "2 replies withheld for naming it"


def test_says_unknown_only_for_short_replies() -> None:
    assert says_unknown("I'm not sure.")
    assert not says_unknown("I'm not sure exactly when, but the cough started three days ago.")


def _missed(test: str) -> str | None:
    check = MeasurementCheck(CASE)
    report = LookupMeasurement(CASE).lookup(test)
    faults = check.check(test, report)
    return faults[0].evidence if faults else None


def test_a_test_held_under_another_name_is_a_fault() -> None:
    assert "Oxygen_Saturation" in (_missed("oxygen level") or "")
    assert "ESR" in (_missed("ESR and CRP") or "")
    assert "Ferritin" in (_missed("ferritin level and iron studies") or "")


def test_a_test_the_case_lacks_is_not() -> None:
    for test in ["urinalysis", "skin biopsy", "chest CT", "vitamin B12", "blood tests"]:
        assert _missed(test) is None, test
    assert _missed("Ferritin") is None  # found: no fault
    available = MeasurementTurn(matched="x", available=True, result="fine")
    assert MeasurementCheck(CASE).check("anything", available) == []
    normal = MeasurementTurn(matched=None, available=False, result="NORMAL READINGS")
    assert MeasurementCheck(CASE).check("oxygen level", normal) != []
    assert NOT_AVAILABLE


def test_spoiled_means_wrong_with_a_fault() -> None:
    faulted = FaultSummary()
    faulted.faults["test_missed"] = 1
    assert spoiled(False, faulted) and not spoiled(True, faulted)
    assert not spoiled(False, FaultSummary())
