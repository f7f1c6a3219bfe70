"""Readers for AgentClinic's two scenario formats, applied to the files unmodified.

OSCE format (`agentclinic_medqa*.jsonl`, and AgentClinic-MIMIC-IV, same shape):
    {"OSCE_Examination": {"Objective_for_Doctor", "Patient_Actor", "Physical_Examination_Findings",
                          "Test_Results", "Correct_Diagnosis"}}
NEJM format (`agentclinic_nejm*.jsonl`):
    {"image_url", "question", "patient_info", "physical_exams", "answers": [{text, correct}],
     "type"?}

Each source record is first validated against a permissive model of the source format, so
errors name the source's own field path; then it is converted to a `Scenario`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clinsim.scenarios.model import (
    AnswerKey,
    Case,
    Facts,
    ImageRef,
    PatientFacts,
    Provenance,
    Scenario,
)

# ---------------------------------------------------------------- OSCE


class _Source(BaseModel):
    model_config = ConfigDict(extra="allow")

    def extras(self) -> dict[str, Facts]:
        return dict(self.model_extra or {})


class OscePatientActor(_Source):
    Demographics: Facts = None
    History: Facts = None
    Symptoms: Facts = None
    Past_Medical_History: Facts = None
    Social_History: Facts = None
    Family_History: Facts = None
    Review_of_Systems: Facts = None
    Current_Medications: Facts = None
    Medications: Facts = None
    Allergies: Facts = None


class OsceExamination(_Source):
    Objective_for_Doctor: str = Field(min_length=1)
    Patient_Actor: OscePatientActor
    Physical_Examination_Findings: Facts = None
    Test_Results: Facts = None
    Correct_Diagnosis: str | list[str]

    @field_validator("Correct_Diagnosis")
    @classmethod
    def _not_blank(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names or not all(n.strip() for n in names):
            raise ValueError("must name a diagnosis")
        return value


class OsceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    OSCE_Examination: OsceExamination


def _as_section(value: Facts, default_key: str) -> dict[str, Facts]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {default_key: value}


def _patient_facts(actor: OscePatientActor) -> PatientFacts:
    medications = actor.Current_Medications
    other = actor.extras()
    if medications is None:
        medications = actor.Medications
    elif actor.Medications is not None:
        other["Medications"] = actor.Medications
    return PatientFacts(
        demographics=actor.Demographics,
        history=actor.History,
        symptoms=actor.Symptoms,
        past_medical_history=actor.Past_Medical_History,
        social_history=actor.Social_History,
        family_history=actor.Family_History,
        review_of_systems=actor.Review_of_Systems,
        medications=medications,
        allergies=actor.Allergies,
        other=other,
    )


def osce_to_scenario(record: OsceRecord, scenario_id: str, provenance: Provenance) -> Scenario:
    osce = record.OSCE_Examination
    names = (
        [osce.Correct_Diagnosis]
        if isinstance(osce.Correct_Diagnosis, str)
        else list(osce.Correct_Diagnosis)
    )
    case = Case(
        objective=osce.Objective_for_Doctor,
        patient=_patient_facts(osce.Patient_Actor),
        exam=_as_section(osce.Physical_Examination_Findings, "Findings"),
        tests=_as_section(osce.Test_Results, "Results"),
        extra=osce.extras(),
    )
    answer = AnswerKey(diagnosis=names[0].strip(), synonyms=[n.strip() for n in names[1:]])
    return Scenario(id=scenario_id, format="osce", case=case, answer=answer, provenance=provenance)


# ---------------------------------------------------------------- NEJM


class NejmAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    correct: bool


class NejmRecord(_Source):
    image_url: str | None = None
    question: str = Field(min_length=1)
    patient_info: Facts = None
    physical_exams: Facts = None
    answers: list[NejmAnswer] = Field(min_length=2)
    type: list[str] | str | None = None

    @field_validator("answers")
    @classmethod
    def _one_correct(cls, answers: list[NejmAnswer]) -> list[NejmAnswer]:
        correct = sum(a.correct for a in answers)
        if correct != 1:
            raise ValueError(f"exactly one answer must be correct, found {correct}")
        return answers


_NUMBERED_ITEM = re.compile(r"(?:^|\s)(\d{1,2})\.\s+([^:.]{2,80}):\s*")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")

IMAGE_TYPES = {
    "xray": "chest-xray",
    "dermatology": "dermatology",
    "ophthalmology": "fundus",
    "CT scan": "ct",
    "MRI": "mr",
    "hist/path": "histopathology",
    "biopsy": "histopathology",
    "ultrasound": "ultrasound",
    "ECG": "ecg",
    "echocardiogram": "echocardiogram",
}


def split_numbered_findings(text: str) -> dict[str, Facts]:
    """'... 1. Dermoscopy findings: X. 2. Skin biopsy: Y.' -> {'Dermoscopy findings': 'X.', ...}.
    Text that is not a numbered list is kept whole under 'Findings'."""
    matches = list(_NUMBERED_ITEM.finditer(text))
    if len(matches) < 1:
        return {"Findings": text.strip()}
    items: dict[str, Facts] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(2).strip()
        if name in items:
            name = f"{name} ({match.group(1)})"
        items[name] = text[match.end() : end].strip()
    preamble = text[: matches[0].start()].strip()
    if preamble:
        items = {"Summary": preamble, **items}
    return items


def final_question(question: str) -> str:
    """The last sentence of a NEJM case question ('What is the most likely diagnosis?')."""
    sentences = [s for s in _SENTENCE_END.split(question.strip()) if s]
    asks = [s for s in sentences if s.endswith("?")]
    return asks[-1] if asks else "What is the most likely diagnosis?"


def nejm_to_scenario(record: NejmRecord, scenario_id: str, provenance: Provenance) -> Scenario:
    types = [record.type] if isinstance(record.type, str) else list(record.type or [])
    modality = next((IMAGE_TYPES[t] for t in types if t in IMAGE_TYPES), None)
    images = []
    if record.image_url:
        images.append(ImageRef(id="image-1", url=record.image_url, modality=modality))
    exams = record.physical_exams
    tests = (
        split_numbered_findings(exams) if isinstance(exams, str) else _as_section(exams, "Findings")
    )
    case = Case(
        objective=final_question(record.question),
        question=record.question,
        patient=PatientFacts(history=record.patient_info),
        tests=tests,
        images=images,
        tags=types,
        extra=record.extras(),
    )
    correct = next(a.text for a in record.answers if a.correct)
    answer = AnswerKey(diagnosis=correct.strip(), options=[a.text for a in record.answers])
    return Scenario(id=scenario_id, format="nejm", case=case, answer=answer, provenance=provenance)


def detect_format(raw: dict[str, Any]) -> str | None:
    if "OSCE_Examination" in raw:
        return "osce"
    if "answers" in raw and "question" in raw:
        return "nejm"
    if "schema_version" in raw:
        return "clinsim"
    return None
