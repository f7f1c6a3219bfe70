"""Measurement lookup: tolerant names, groups and leaves, panels, not-available answers."""

from __future__ import annotations

from collections import Counter

import pytest
from shared_data import agentclinic

from clinsim.environments.measurement import (
    EXAM_ROOT,
    NORMAL_READINGS,
    NOT_AVAILABLE,
    LookupMeasurement,
    render_value,
)
from clinsim.environments.test_names import canonical_tokens, plain_words
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.model import Case
from clinsim.scenarios.sets import bundled_sets, load_report

OSCE_CASE = Case(
    objective="Assess the patient.",
    exam={
        "Vital_Signs": {"Temperature": "36.6 C", "Blood_Pressure": "125/80 mmHg"},
        "Neurological_Examination": {"Reflexes": "Normal reflexes throughout."},
    },
    tests={
        "Blood_Tests": {"Acetylcholine_Receptor_Antibodies": "Present (elevated)"},
        "Complete_Blood_Count": {"Hemoglobin": "13.1 g/dL", "WBC": "7,200/mm3"},
        "Chest_X-Ray": {"Findings": "Clear lung fields."},
        "Imaging": {"Chest_CT": {"Findings": "Normal, no thymoma or other masses detected."}},
        "Urinalysis": {"Glucose": "Negative", "Nitrites": "Positive"},
        "Urine_Toxicology_Screen": {"Cocaine": "Negative"},
    },
)


def lookup(case: Case, test: str, **kwargs: bool) -> tuple[str | None, bool, str]:
    turn = LookupMeasurement(case, **kwargs).lookup(test)
    return turn.matched, turn.available, turn.result


@pytest.mark.parametrize(
    "request_name",
    [
        "Chest_X-Ray",
        "chest x-ray",
        "CXR",
        "chest radiograph",
        "Chest X ray",
        "chest xray",
        "Chest radiography",
        "chest X-ray please",
    ],
)
def test_chest_x_ray_spellings_all_find_the_same_key(request_name: str) -> None:
    matched, available, result = lookup(OSCE_CASE, request_name)
    assert (matched, available) == ("Chest_X-Ray", True)
    assert result == "Chest_X-Ray: Findings: Clear lung fields."


@pytest.mark.parametrize("request_name", ["CBC", "complete blood count", "full blood count"])
def test_cbc_and_its_long_name(request_name: str) -> None:
    matched, _, result = lookup(OSCE_CASE, request_name)
    assert matched == "Complete_Blood_Count"
    assert "Hemoglobin: 13.1 g/dL" in result and "WBC: 7,200/mm3" in result


def test_group_request_returns_the_whole_group() -> None:
    matched, _, result = lookup(OSCE_CASE, "blood tests")
    assert matched == "Blood_Tests"
    assert result == "Blood_Tests: Acetylcholine_Receptor_Antibodies: Present (elevated)"
    matched, _, result = lookup(OSCE_CASE, "imaging")
    assert matched == "Imaging"
    assert result.splitlines() == [
        "Imaging:",
        "  Chest_CT: Findings: Normal, no thymoma or other masses detected.",
    ]


def test_leaf_request_returns_the_leaf_with_its_parent_path() -> None:
    matched, _, result = lookup(OSCE_CASE, "acetylcholine receptor antibodies")
    assert matched == "Blood_Tests > Acetylcholine_Receptor_Antibodies"
    assert result == "Acetylcholine_Receptor_Antibodies: Present (elevated)"
    matched, _, result = lookup(OSCE_CASE, "Chest CT")
    assert matched == "Imaging > Chest_CT"
    assert result == "Chest_CT: Findings: Normal, no thymoma or other masses detected."
    assert lookup(OSCE_CASE, "hemoglobin")[0] == "Complete_Blood_Count > Hemoglobin"


def test_examination_requests_read_the_exam_findings() -> None:
    matched, _, result = lookup(OSCE_CASE, "physical examination")
    assert matched == EXAM_ROOT
    assert "Temperature: 36.6 C" in result and "Reflexes: Normal reflexes throughout." in result
    assert lookup(OSCE_CASE, "vital signs")[0] == f"{EXAM_ROOT} > Vital_Signs"
    assert lookup(OSCE_CASE, "neuro exam")[0] == f"{EXAM_ROOT} > Neurological_Examination"
    assert lookup(OSCE_CASE, "BP")[0] == f"{EXAM_ROOT} > Vital_Signs > Blood_Pressure"


@pytest.mark.parametrize(
    ("request_name", "expected"),
    [
        ("head CT", None),  # not Chest_CT
        ("MRI brain", None),
        ("urinalysis", "Urinalysis"),  # not the urine toxicology screen
        ("glucose", None),  # urine glucose is not a blood glucose
        ("urine glucose", "Urinalysis > Glucose"),
        ("nitrites", "Urinalysis > Nitrites"),
        ("CT", "Imaging > Chest_CT"),  # a less specific order still finds it
        ("toxicology screen", "Urine_Toxicology_Screen"),
    ],
)
def test_matching_is_tolerant_but_not_loose(request_name: str, expected: str | None) -> None:
    assert lookup(OSCE_CASE, request_name)[0] == expected


def test_missing_test_is_not_available_or_normal_in_compatibility_mode() -> None:
    assert lookup(OSCE_CASE, "MRI brain") == (None, False, NOT_AVAILABLE)
    assert lookup(OSCE_CASE, "MRI brain", normal_readings=True) == (None, False, NORMAL_READINGS)
    assert lookup(OSCE_CASE, "") == (None, False, NOT_AVAILABLE)
    # a test the case holds is reported as usual in compatibility mode
    assert lookup(OSCE_CASE, "CXR", normal_readings=True)[1] is True


MIMIC_CASE = Case(
    objective="Assess the patient.",
    tests={
        "Hematology": {
            "Hemoglobin": "9.1 g/dL",
            "White Blood Cells": "12.3 K/uL",
            "Platelet Count": "250 K/uL",
            "INR(PT)": "1.1",
        },
        "Chemistry": {
            "Sodium": "135 mEq/L",
            "Potassium": "4.1 mEq/L",
            "Creatinine": "1.4 mg/dL",
            "Urea Nitrogen": "30 mg/dL",
            "Alanine Aminotransferase (ALT)": "88 IU/L",
            "Bilirubin, Total": "1.3 mg/dL",
        },
        "Urine Hematology": {"WBC": "20 /HPF"},
    },
)


def test_mimic_lab_names_and_panels_made_of_their_members() -> None:
    matched, _, result = lookup(MIMIC_CASE, "CBC")
    assert matched == (
        "Hematology > Hemoglobin, Hematology > White Blood Cells, Hematology > Platelet Count"
    )
    assert result.splitlines()[0] == "Hemoglobin: 9.1 g/dL"
    assert lookup(MIMIC_CASE, "BMP")[0] == (
        "Chemistry > Sodium, Chemistry > Potassium, Chemistry > Creatinine, "
        "Chemistry > Urea Nitrogen"
    )
    assert lookup(MIMIC_CASE, "LFTs")[0] == (
        "Chemistry > Alanine Aminotransferase (ALT), Chemistry > Bilirubin, Total"
    )
    assert lookup(MIMIC_CASE, "WBC")[0] == "Hematology > White Blood Cells"
    assert lookup(MIMIC_CASE, "urine WBC")[0] == "Urine Hematology > WBC"
    assert lookup(MIMIC_CASE, "BUN")[0] == "Chemistry > Urea Nitrogen"
    assert lookup(MIMIC_CASE, "ALT")[0] == "Chemistry > Alanine Aminotransferase (ALT)"
    assert lookup(MIMIC_CASE, "chemistry")[0] == "Chemistry"


NEJM_CASE = Case(
    objective="What is the most likely diagnosis?",
    tests={
        "Summary": "The information relevant to instrument readings and test results includes:",
        "Dermoscopy findings": "Hyperchromic, pinpoint macules observed in the affected areas.",
        "Skin biopsy results": "Extracellular deposition of yellow-brown bodies in the dermis.",
    },
)
NEJM_BLOB = Case(
    objective="What is the most likely diagnosis?",
    tests={
        "Findings": "Laboratory studies: - Lactate dehydrogenase level: 3566 U per liter. "
        "Chest radiograph: Calcification of the pericardium. - Transbronchial lung biopsy: "
        "Noncaseating granulomas."
    },
)


def test_nejm_free_text_keys() -> None:
    assert lookup(NEJM_CASE, "dermoscopy")[0] == "Dermoscopy findings"
    assert lookup(NEJM_CASE, "skin biopsy")[0] == "Skin biopsy results"
    assert lookup(NEJM_CASE, "biopsy")[0] == "Skin biopsy results"
    assert lookup(NEJM_CASE, "CBC")[1] is False


def test_nejm_findings_blob_is_split_into_labelled_parts() -> None:
    matched, _, result = lookup(NEJM_BLOB, "CXR")
    assert matched == "Findings > Chest radiograph"
    assert result == "Chest radiograph: Calcification of the pericardium."
    assert lookup(NEJM_BLOB, "LDH")[0] == "Findings > Lactate dehydrogenase level"
    assert lookup(NEJM_BLOB, "lung biopsy")[0] == "Findings > Transbronchial lung biopsy"
    assert lookup(NEJM_BLOB, "findings")[0] == "Findings"  # the whole blob


def test_rendering_of_nested_values() -> None:
    value = {"A": {"B": "1", "C": ["x", "y"]}, "D": True, "E": None}
    assert render_value("Panel", value) == [
        "Panel:",
        "  A:",
        "    B: 1",
        "    C: x; y",
        "  D: yes",
        "  E: (none)",
    ]


def test_lookup_is_deterministic() -> None:
    requests = ["CBC", "CT", "blood tests", "x-ray", "findings", "unknown thing", "exam"]
    first = [LookupMeasurement(OSCE_CASE).lookup(r) for r in requests]
    second = [LookupMeasurement(OSCE_CASE).lookup(r) for r in requests]
    assert first == second


async def test_report_is_the_async_protocol_method() -> None:
    turn = await LookupMeasurement(OSCE_CASE).report("CXR")
    assert turn.matched == "Chest_X-Ray"


def _plain_request(entry_path: tuple[str, ...], unique: bool) -> str:
    words = entry_path[-1:] if unique else [p for p in entry_path if p != EXAM_ROOT]
    return " ".join(part.replace("_", " ") for part in words)


def _name(key: str) -> tuple[str, ...]:
    return canonical_tokens(key) or tuple(plain_words(key))


def _unretrievable(case: Case) -> list[str]:
    """Keys of `case` that a request written in plain words does not find. A key is asked for
    by its own name; where that name is ambiguous in the case (two `Findings`), or is a blood
    test name inside another specimen (`Urinalysis > WBC`), by its path."""
    measurement = LookupMeasurement(case)
    names = Counter(_name(e.path[-1]) for e in measurement.entries)
    misses = []
    for entry in measurement.entries:
        top = len(entry.path) == 1 or (entry.path[0] == EXAM_ROOT and len(entry.path) == 2)
        if not (top or not isinstance(entry.value, dict)):
            continue
        own = canonical_tokens(entry.path[-1])
        # a key of filler words only ("Results") answers to its own words
        unique = names[_name(entry.path[-1])] == 1 and (own in entry.names or not own)
        request = _plain_request(entry.path, unique)
        found = measurement.find(request)
        if any(entry.path[: len(f.path)] == f.path for f in found):
            continue  # found it, or a group that holds it
        # two keys that read the same (`Leukocytes` and `WBC`): either answer is right
        if not any(canonical_tokens(request) in f.names for f in found):
            misses.append(f"{entry.label!r} asked as {request!r}: {[f.label for f in found]}")
    return misses


@pytest.mark.parametrize("set_name", [s.name for s in bundled_sets()])
def test_every_key_of_every_bundled_scenario_is_retrievable(set_name: str) -> None:
    report = load_report(set_name)
    assert report.scenarios
    misses = [m for s in report.scenarios for m in (_unretrievable(s.case))]
    assert misses == []


def test_agentclinic_medqa_ext_is_among_the_scanned_sets() -> None:
    assert "agentclinic-medqa-ext" in {s.name for s in bundled_sets()}
    assert len(load_report("agentclinic-medqa-ext").scenarios) == 214


@pytest.mark.parametrize("name", ["agentclinic_nejm_extended.jsonl", "agentclinic_medqa.jsonl"])
def test_every_key_of_the_agentclinic_files_is_retrievable(name: str) -> None:
    report = load_file(agentclinic(name))
    misses = [m for s in report.scenarios for m in _unretrievable(s.case)]
    assert misses == []
