"""Scenario audit: leaked diagnoses (where, exactly) and NEJM questions that ask for no
diagnosis."""

from __future__ import annotations

import pytest
from shared_data import agentclinic

from clinsim.scenarios.audit import (
    asks_for_diagnosis,
    audit_report,
    audit_scenario,
    diagnosis_names,
    flagged,
)
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.model import AnswerKey, Case, PatientFacts, Provenance, Scenario
from clinsim.scenarios.sets import load_report
from clinsim.scenarios.text import terms

LEAKS = ("diagnosis-in-case", "diagnosis-in-field-name")
MEDQA_LEAKS = {
    2,
    3,
    11,
    14,
    18,
    20,
    23,
    39,
    48,
    52,
    54,
    62,
    86,
    87,
    102,
    104,
    107,
}
EXT_ONLY_LEAKS = {108, 119, 134, 144, 154, 155, 161, 163, 166, 174, 185, 197, 199, 214}


def _scenario(diagnosis: str, **case: object) -> Scenario:
    return Scenario(
        id="t/0001",
        case=Case(objective=str(case.pop("objective", "Diagnose the patient.")), **case),  # type: ignore[arg-type]
        answer=AnswerKey(diagnosis=diagnosis),
        provenance=Provenance(source="test"),
    )


def test_names_the_field_path_and_a_snippet() -> None:
    scenario = _scenario(
        "Legg-Calvé-Perthes disease (LCPD)",
        tests={"X-ray": {"Findings": "Flattening consistent with Legg-Calve-Perthes disease."}},
        exam={"Gait": "Antalgic gait, suggestive of LCPD"},
    )
    findings = audit_scenario(scenario)
    assert [(f.kind, f.path) for f in findings] == [
        ("diagnosis-in-case", "case.exam.Gait"),
        ("diagnosis-in-case", "case.tests.X-ray.Findings"),
    ]
    assert "Flattening consistent" in findings[1].snippet
    line = str(findings[0])
    assert line.split("\t")[:3] == ["t/0001", "diagnosis-in-case", "case.exam.Gait"]


def test_whole_phrases_only_after_normalisation() -> None:
    leaked = _scenario(
        "Seborrheic keratosis",
        patient=PatientFacts(history="Told years ago these were seborrheic KERATOSES."),
    )
    assert [f.path for f in audit_scenario(leaked)] == ["case.patient.history"]
    partial = _scenario("Myasthenia gravis", tests={"AChR": "Myasthenia screen negative"})
    assert audit_scenario(partial) == []
    abbreviation = _scenario("Multiple sclerosis (MS)", tests={"Note": "mild, symmetric"})
    assert audit_scenario(abbreviation) == []


def test_test_names_are_field_name_findings() -> None:
    scenario = _scenario("Varicella", tests={"Varicella_Specific_Tests": {"IgM": "Positive"}})
    findings = audit_scenario(scenario)
    assert [(f.kind, f.path) for f in findings] == [
        ("diagnosis-in-field-name", "case.tests.Varicella_Specific_Tests#key")
    ]


def test_extra_names_hook_adds_synonyms() -> None:
    scenario = _scenario("Varicella", tests={"Rash": "Typical of chickenpox"})
    assert audit_scenario(scenario) == []
    found = audit_scenario(scenario, extra=lambda name: ["Chickenpox"])
    assert [f.path for f in found] == ["case.tests.Rash"]


def test_middle_parentheses_are_not_aliases() -> None:
    scenario = _scenario("Cystine and triple phosphate (struvite) crystals")
    assert [terms(n) for n in diagnosis_names(scenario)] == [
        ("cystine", "and", "triple", "phosphate", "crystal")
    ]


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What is the most likely diagnosis?", True),
        ("What’s the most likely diagnosis?", True),
        ("Which of the following is most likely diagnosis?", True),
        ("What is the diagnosis?", True),
        ("What is the most likely cause?", False),
        ("What is the next step?", False),
        ("Which organism was the cause of his infection?", False),
        ("What additional pleural-fluid test is most likely to reveal the diagnosis?", False),
    ],
)
def test_asks_for_diagnosis(question: str, asks: bool) -> None:
    assert asks_for_diagnosis(question) is asks


def _ids(findings: list, kinds: tuple[str, ...]) -> set[int]:  # type: ignore[type-arg]
    return {int(i.rsplit("/", 1)[1]) for i in flagged(findings, kinds)}


def test_bundled_medqa_sets() -> None:
    medqa = audit_report(load_report("agentclinic-medqa"))
    ext = audit_report(load_report("agentclinic-medqa-ext"))
    assert _ids(medqa, LEAKS) == MEDQA_LEAKS  # 17
    assert _ids(ext, LEAKS) == MEDQA_LEAKS | EXT_ONLY_LEAKS  # 31
    assert _ids(ext, ("diagnosis-in-field-name",)) == {154}
    assert not flagged(medqa + ext, ["question-not-diagnosis"])


def test_nejm_files() -> None:
    nejm = audit_report(load_file(agentclinic("agentclinic_nejm.jsonl")))
    ext = audit_report(load_file(agentclinic("agentclinic_nejm_extended.jsonl")))
    assert flagged(nejm) == set()
    assert len(flagged(ext, ["question-not-diagnosis"])) == 30
    assert flagged(ext, LEAKS) == set()


def test_mimic_cases_whose_diagnosis_is_in_earlier_admissions_are_flagged() -> None:
    from clinsim.scenarios.audit import audit_scenario
    from clinsim.scenarios.sets import load_report

    scenarios = load_report("mimic-iv-demo").scenarios
    tagged = [s for s in scenarios if "diagnosis-in-ehr-history" in s.case.tags]
    assert tagged
    for scenario in tagged:
        kinds = {f.kind for f in audit_scenario(scenario)}
        assert "diagnosis-in-ehr" in kinds
