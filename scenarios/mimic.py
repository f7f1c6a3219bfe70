"""MIMIC-derived scenarios (AgentClinic-MIMIC-IV style, OSCE shape) from an EHR database.

One scenario per admission that has a principal diagnosis and early labs:
- index time = admission time; the EHR link (subject, admission, index time) is set so the EHR
  tools show the record as it stood when the patient arrived;
- patient facts from demographics, earlier admissions (their coded diagnoses as past history)
  and the drugs of the most recent earlier admission;
- examination: the first charted vital signs of the admission (else recent outpatient ones);
- tests: the first result of each lab test in the admission's first 24 hours, and the
  microbiology of its first 48 hours;
- correct diagnosis: the principal diagnosis (seq_num 1) long title.

The patient's story is a template paragraph; a `phrase(facts_text) -> str` callable may rewrite
it (e.g. a local model: MIMIC data must not be sent to remote services). With a MIMIC-IV-Note
folder (`notes_dir`), only admissions with a discharge summary are built and the note tells the
story: chief complaint, history, past, social and family history, medications, allergies, the
admission examination and early imaging (`clinsim.scenarios.mimic_notes`); such cases are
tagged `mimic-iv-note`, and `diagnosis-in-note` where their doctor-visible text names the
diagnosis. This module reads the EHR with plain SQL on MIMIC-IV table names and calls no model
itself. Every query orders its rows and its aggregates completely: the same database always
gives byte-identical scenarios, whatever DuckDB's thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from clinsim.scenarios.audit import EHR_LEAK_TAG, NOTE_LEAK_TAG
from clinsim.scenarios.mimic_note_cases import (
    NoteFileError,
    NoteIndex,
    NoteStories,
    apply_story,
    index_notes,
    leak_paths,
    load_stories,
    note_names,
)
from clinsim.scenarios.mimic_note_files import Admission
from clinsim.scenarios.mimic_notes import NoteStory
from clinsim.scenarios.mimic_queries import INDEX_SQL, VITALS, Extracts, admissions, extract
from clinsim.scenarios.model import (
    AnswerKey,
    Case,
    EHRLink,
    Facts,
    PatientFacts,
    Provenance,
    Scenario,
)
from clinsim.scenarios.text import NameMatcher

Phrase = Callable[[str], str]


# MIMIC-IV d_items ids of the vital signs used for the examination.
class MimicScenarioError(Exception):
    """The EHR database cannot be turned into scenarios (names the file and the reason)."""


@dataclass(frozen=True)
class MimicSetInfo:
    set_name: str = "mimic-iv"
    license: str = "PhysioNet Credentialed Health Data License 1.5.0"
    attribution: str = "MIMIC-IV (Johnson et al., PhysioNet)"


def template_phrase(facts_text: str) -> str:
    """The default writer: the facts paragraph as it is."""
    return facts_text


def _open(ehr_db: Path) -> duckdb.DuckDBPyConnection:
    if not Path(ehr_db).is_file():
        raise MimicScenarioError(f"{ehr_db}: no such EHR database file")
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS ehr (READ_ONLY)", [str(ehr_db)])
        con.execute("SELECT 1 FROM ehr.admissions, ehr.patients, ehr.diagnoses_icd LIMIT 0")
    except duckdb.Error as exc:
        con.close()
        raise MimicScenarioError(f"{ehr_db}: not a clinsim EHR database: {exc}") from exc
    return con


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _lab_text(row: tuple[Any, ...]) -> str:
    value, num, unit, flag, low, high = row
    text = _number(num) if num is not None else str(value).strip()
    if unit and str(unit).strip():
        text += f" {str(unit).strip()}"
    notes = [str(flag)] if flag else []
    if low is not None and high is not None:
        notes.append(f"reference {_number(low)}-{_number(high)}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _tests(labs: list[tuple[Any, ...]], micro: list[tuple[Any, ...]]) -> dict[str, Facts]:
    tests: dict[str, dict[str, Facts]] = {}
    for category, fluid, label, *values in labs:
        group = str(category) if fluid in (None, "Blood") else f"{fluid} {category}"
        tests.setdefault(group, {})[str(label)] = _lab_text(tuple(values))
    for specimen, test, organisms, comments in micro:
        result = organisms or comments or "Pending / no result recorded."
        tests.setdefault("Microbiology", {})[f"{test} ({specimen})"] = str(result)[:400]
    return dict(tests)


def _exam(vitals: list[tuple[Any, ...]], omr: list[tuple[Any, ...]]) -> dict[str, Facts]:
    found = {VITALS[int(item)]: (value, unit) for item, value, unit in vitals}
    signs: dict[str, Facts] = {}
    for name in ("Temperature", "Heart_Rate", "Respiratory_Rate", "Oxygen_Saturation"):
        if name in found:
            value, unit = found[name]
            signs[name] = f"{_number(value)} {unit or ''}".strip()
    if "Systolic" in found and "Diastolic" in found:
        signs["Blood_Pressure"] = (
            f"{_number(found['Systolic'][0])}/{_number(found['Diastolic'][0])} mmHg"
        )
    if not signs and omr:
        signs = {f"{name} (outpatient)": str(value) for name, value in omr}
    return {"Vital_Signs": signs} if signs else {}


def _age(row: dict[str, Any]) -> int:
    admit: datetime = row["admittime"]
    return int(row["anchor_age"] or 0) + admit.year - int(row["anchor_year"] or admit.year)


def _history_text(
    row: dict[str, Any], history: list[str], prior: tuple[Any, ...] | None, meds: list[str]
) -> str:
    sex = {"F": "woman", "M": "man"}.get(str(row["gender"]), "patient")
    where = str(row["admission_location"] or "unknown origin").lower()
    parts = [
        f"A {_age(row)}-year-old {sex} admitted to hospital "
        f"(admission type {str(row['admission_type']).lower()}, from {where})."
    ]
    if prior:
        count, last_discharge = prior
        days = (row["admittime"] - last_discharge).days
        parts.append(f"{count} earlier admission(s); the last ended {days} days ago.")
    else:
        parts.append("No earlier admissions on record.")
    if history:
        parts.append("Conditions known from earlier admissions: " + "; ".join(history) + ".")
    if meds:
        parts.append("Drugs given during the last admission: " + ", ".join(meds) + ".")
    return " ".join(parts)


def _distinct(values: Iterator[str], limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)[:limit]


def _ehr_leak_tags(row: dict[str, Any], prior_dx: list[tuple[Any, ...]]) -> list[str]:
    names = NameMatcher([str(row["diagnosis"])])  # the audit's names: main text and alias
    seen = any(names.found_in(str(title)) for _, title in prior_dx)
    return [EHR_LEAK_TAG] if seen else []


def _patient_fields(
    row: dict[str, Any], data: Extracts, phrase: Phrase, story: NoteStory | None
) -> dict[str, Facts]:
    hadm = int(row["hadm_id"])
    history = _distinct((str(title) for _, title in data.prior_dx.get(hadm, [])), 12)
    meds = _distinct((str(drug) for drug, _ in data.meds.get(hadm, [])), 12)
    prior = data.prior_adm.get(hadm, [None])[0]
    sex = {"F": "female", "M": "male"}.get(str(row["gender"]), str(row["gender"]))
    social = {
        "Marital_Status": row["marital_status"],
        "Language": row["language"],
        "Insurance": row["insurance"],
    }
    told = story.patient.get("history") if story else None
    conditions: list[Facts] = list(history)
    drugs: list[Facts] = list(meds)
    return {
        "demographics": f"{_age(row)}-year-old {sex}",
        "history": told or phrase(_history_text(row, history, prior, meds)),
        "past_medical_history": conditions or "No earlier admissions on record.",
        "medications": drugs or None,
        "social_history": {k: v for k, v in social.items() if v and v != "?"} or None,
    }


_OBJECTIVE = (
    "Assess the patient being admitted to hospital and determine the principal diagnosis for "
    "this admission. The patient's electronic health record (earlier admissions, labs, "
    "medications) is available through the EHR tools."
)


def _scenario(
    row: dict[str, Any],
    data: Extracts,
    info: MimicSetInfo,
    phrase: Phrase,
    record: int,
    story: NoteStory | None = None,
) -> Scenario:
    hadm = int(row["hadm_id"])
    patient = _patient_fields(row, data, phrase, story)
    exam = _exam(data.vitals.get(hadm, []), data.omr.get(hadm, []))
    tests = _tests(data.labs.get(hadm, []), data.micro.get(hadm, []))
    tags = ["mimic-iv", "ehr", *_ehr_leak_tags(row, data.prior_dx_all.get(hadm, []))]
    if story is not None:
        patient, exam, tests = apply_story(story, patient, exam, tests)
        tags.append("mimic-iv-note")
    case = Case(
        objective=_OBJECTIVE,
        patient=PatientFacts(**{k: v for k, v in patient.items() if v is not None}),
        exam=exam,
        tests=tests,
        ehr=EHRLink(subject_id=int(row["subject_id"]), hadm_id=hadm, index_time=row["admittime"]),
        tags=tags,
    )
    return Scenario(
        id=f"{info.set_name}/{hadm}",
        format="osce",
        case=case,
        answer=AnswerKey(diagnosis=str(row["diagnosis"])),
        provenance=Provenance(
            source=info.set_name,
            record=record,
            license=info.license,
            attribution=info.attribution,
        ),
    )


def _tag_note_leaks(scenario: Scenario, story: NoteStory) -> tuple[Scenario, list[str]]:
    """The scenario, tagged `diagnosis-in-note` when its doctor-visible text names the
    diagnosis (see `clinsim.scenarios.mimic_note_cases.note_names`), and the paths found."""
    paths = leak_paths(scenario, note_names(scenario.answer.diagnosis, story.diagnoses))
    if not paths:
        return scenario, []
    case = scenario.case.model_copy(update={"tags": [*scenario.case.tags, NOTE_LEAK_TAG]})
    return scenario.model_copy(update={"case": case}), paths


@dataclass
class MimicBuild:
    """Scenarios of one build, with the notes read and the note leaks found (by scenario id)."""

    scenarios: list[Scenario]
    notes: NoteStories | None = None
    leaks: dict[str, list[str]] = field(default_factory=dict)


def _index_notes(
    con: duckdb.DuckDBPyConnection, notes_dir: Path | None
) -> tuple[NoteIndex, dict[int, Admission]] | None:
    """The first pass over the notes, and the `noted` table of admissions that have one."""
    con.execute("CREATE TEMP TABLE noted (hadm_id BIGINT)")
    if notes_dir is None:
        return None
    known = admissions(con)
    try:
        index = index_notes(Path(notes_dir), known)
    except NoteFileError as exc:
        raise MimicScenarioError(str(exc)) from exc
    con.execute("INSERT INTO noted SELECT unnest($h::BIGINT[])", {"h": sorted(index.chosen)})
    return index, known


def build_mimic(
    ehr_db: Path,
    info: MimicSetInfo | None = None,
    limit: int | None = None,
    phrase: Phrase = template_phrase,
    notes_dir: Path | None = None,
) -> MimicBuild:
    """One scenario per admission with a principal diagnosis and early labs (and, with
    `notes_dir`, a discharge summary), in (subject, admission time) order; at most `limit`."""
    info = info or MimicSetInfo()
    con = _open(Path(ehr_db))
    try:
        indexed = _index_notes(con, notes_dir)
        limit_rows = limit if limit is not None else 2**62
        con.execute(INDEX_SQL, {"limit": limit_rows, "noted": indexed is not None})
        cursor = con.execute("SELECT * FROM idx ORDER BY subject_id, admittime, hadm_id")
        names = [str(d[0]) for d in cursor.description or []]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        data = extract(con)
    except duckdb.Error as exc:
        raise MimicScenarioError(f"{ehr_db}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    notes = None
    if indexed is not None:
        notes = load_stories(*indexed, {int(row["hadm_id"]) for row in rows})
    build = MimicBuild([], notes)
    for record, row in enumerate(rows, start=1):
        story = notes.stories.get(int(row["hadm_id"])) if notes else None
        scenario = _scenario(row, data, info, phrase, record, story)
        if story is not None:
            scenario, paths = _tag_note_leaks(scenario, story)
            if paths:
                build.leaks[scenario.id] = paths
        build.scenarios.append(scenario)
    return build


def build_mimic_scenarios(
    ehr_db: Path,
    info: MimicSetInfo | None = None,
    limit: int | None = None,
    phrase: Phrase = template_phrase,
    notes_dir: Path | None = None,
) -> list[Scenario]:
    """The scenarios of `build_mimic`."""
    return build_mimic(ehr_db, info, limit, phrase, notes_dir).scenarios
