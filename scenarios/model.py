"""The scenario model: one typed, versioned record for every scenario format.

A scenario is split in two: the *case* (what the simulated world knows: patient facts,
examination findings, test results, images, EHR link) and the *answer key* (the correct
diagnosis and, for multiple-choice formats, the options). Only the judge and the oracle
doctor read the answer key; everything the doctor sees is built from the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION = 1
"""Bumped when the scenario format changes incompatibly; loaders say which versions they read."""

Facts = JsonValue
"""Free-form clinical content as found in source files: text, numbers, lists or nested maps."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientFacts(_Strict):
    """What the patient knows about themselves. Source files drift between text, lists and
    maps for every field, so each field keeps whatever shape the source used."""

    demographics: Facts = None
    history: Facts = None
    symptoms: Facts = None
    past_medical_history: Facts = None
    social_history: Facts = None
    family_history: Facts = None
    review_of_systems: Facts = None
    medications: Facts = None
    allergies: Facts = None
    other: dict[str, Facts] = Field(
        default_factory=dict, description="Facts under keys this model does not name."
    )


class ImageRef(_Strict):
    """An image belonging to the scenario. `path` is resolved relative to the scenario file
    when relative; `url` records where a source said the image lives."""

    id: str
    path: str | None = None
    url: str | None = None
    modality: str | None = Field(
        default=None, description="chest-xray, dermatology, fundus, histopathology, ct, mr, ..."
    )
    caption: str | None = None
    shown_upfront: bool = Field(
        default=False, description="Shown to the doctor at the start instead of on request."
    )


class EHRLink(_Strict):
    """Ties a scenario to one patient of an EHR database, as of the encounter's index time."""

    subject_id: int
    hadm_id: int | None = None
    index_time: datetime


class Provenance(_Strict):
    source: str = Field(description="Data set or generator the scenario came from.")
    file: str | None = None
    record: int | None = Field(default=None, description="1-based line number in `file`.")
    license: str | None = None
    attribution: str | None = None


class AnswerKey(_Strict):
    """Sealed: read only by judges and the oracle doctor."""

    diagnosis: str = Field(min_length=1)
    options: list[str] = Field(
        default_factory=list, description="Multiple-choice options (NEJM), correct one included."
    )
    synonyms: list[str] = Field(default_factory=list, description="Other accepted names.")


class Case(_Strict):
    """Everything about a scenario except its answer key."""

    objective: str = Field(description="What the doctor is asked to do.")
    question: str | None = Field(default=None, description="Case question (NEJM format).")
    patient: PatientFacts = Field(default_factory=PatientFacts)
    exam: dict[str, Facts] = Field(
        default_factory=dict, description="Physical examination findings."
    )
    tests: dict[str, Facts] = Field(default_factory=dict, description="Test results, nested.")
    images: list[ImageRef] = Field(default_factory=list)
    ehr: EHRLink | None = None
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, Facts] = Field(
        default_factory=dict, description="Source fields with no place above (kept, not shown)."
    )


class Scenario(_Strict):
    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, description="Unique within a set: '<set>/<record>'.")
    format: Literal["osce", "nejm", "clinsim"] = "clinsim"
    case: Case
    answer: AnswerKey
    provenance: Provenance

    def __repr__(self) -> str:  # keep the answer key out of logs and tracebacks
        return f"Scenario(id={self.id!r}, format={self.format!r})"

    __str__ = __repr__
