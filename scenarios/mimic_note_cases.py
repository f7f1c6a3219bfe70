"""Notes for the MIMIC scenario builder: read a MIMIC-IV-Note folder against the EHR's
admissions, merge each admission's story into its case, and check the case for the diagnosis.

Per admission the discharge summary (`DS`) with the lowest note_seq is read, and the radiology
reports (`RR`) of the same admission (see `clinsim.scenarios.mimic_notes` for what each part
becomes). The discharge file is read twice: a first pass checks every row and picks each
admission's note without parsing text; the second parses only the notes of the admissions being
built, so `--limit` keeps a build on the full notes short.

The leak check looks for names of the admission's diagnosis in every doctor-visible text of the
finished case (`clinsim.scenarios.audit.doctor_visible_text`), with more names than the audit's
own rule, since a note speaks of "appendicitis" or "NSTEMI" rather than an ICD title: the
principal diagnosis; its part before ", " ("Pneumonia, unspecified organism" -> "Pneumonia") and
before " without "; its part before " with " when it starts with "Acute" ("Acute appendicitis
with generalized peritonitis" -> "Acute appendicitis"); each without a leading "Other" or
"Unspecified"; and the note's primary discharge diagnoses, treated the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from clinsim.scenarios.audit import doctor_visible_text
from clinsim.scenarios.mimic_note_files import (
    Admission,
    NoteFileError,
    NoteProblem,
    NoteRead,
    iter_notes,
    note_folder,
)
from clinsim.scenarios.mimic_notes import IMAGING_WINDOW, NoteStory, imaging_result, read_story
from clinsim.scenarios.model import Facts, Scenario
from clinsim.scenarios.text import NameMatcher

__all__ = [
    "NoteFileError",
    "NoteIndex",
    "NoteStories",
    "apply_story",
    "index_notes",
    "leak_paths",
    "load_stories",
    "note_names",
]


@dataclass
class NoteIndex:
    """The discharge summary chosen for each admission (lowest note_seq, then note_id), found
    by a first pass that parses no text."""

    folder: Path
    chosen: dict[int, tuple[int, str]]
    read: NoteRead

    @property
    def discharge(self) -> Path:
        return self.folder / "discharge.csv.gz"


@dataclass
class NoteStories:
    """Stories by admission (hadm_id), and what reading each file found wrong or left out."""

    stories: dict[int, NoteStory] = field(default_factory=dict)
    reads: dict[str, NoteRead] = field(default_factory=dict)

    @property
    def problems(self) -> list[NoteProblem]:
        return [problem for read in self.reads.values() for problem in read.problems]


def _subjects(admissions: dict[int, Admission]) -> set[int]:
    return {a.subject_id for a in admissions.values()}


def index_notes(directory: Path, admissions: dict[int, Admission]) -> NoteIndex:
    """The first pass over the discharge file. Raises NoteFileError when the folder has no
    discharge file, or no discharge note could be read at all."""
    index = NoteIndex(note_folder(Path(directory)), {}, NoteRead())
    for note in iter_notes(index.discharge, "DS", admissions, _subjects(admissions), index.read):
        hadm = note.hadm_id
        assert hadm is not None
        key = (note.note_seq, note.note_id)
        if hadm not in index.chosen or key < index.chosen[hadm]:
            index.chosen[hadm] = key
    if not index.chosen and index.read.problems:
        details = "; ".join(str(p) for p in index.read.problems[:3])
        raise NoteFileError(f"{index.discharge}: no usable discharge note ({details})")
    return index


def _discharge(
    index: NoteIndex, admissions: dict[int, Admission], wanted: set[int], found: NoteStories
) -> None:
    found.reads[str(index.discharge)] = index.read
    again = NoteRead()  # the first pass has recorded this file's problems
    for note in iter_notes(index.discharge, "DS", admissions, _subjects(admissions), again):
        hadm = note.hadm_id
        if hadm in wanted and index.chosen.get(hadm) == (note.note_seq, note.note_id):
            found.stories[hadm] = read_story(note, admissions[hadm].age)


def _radiology(path: Path, admissions: dict[int, Admission], found: NoteStories) -> None:
    read = found.reads.setdefault(str(path), NoteRead())
    results: dict[int, list[tuple[datetime, int, str, str, Facts]]] = {}
    for note in iter_notes(path, "RR", admissions, _subjects(admissions), read):
        hadm = note.hadm_id
        assert hadm is not None
        if hadm not in found.stories:
            continue
        if note.charttime >= admissions[hadm].admittime + IMAGING_WINDOW:
            continue
        result = imaging_result(note)
        if result:
            entry = (note.charttime, note.note_seq, note.note_id, result[0], result[1])
            results.setdefault(hadm, []).append(entry)
    for hadm, entries in results.items():
        tests: dict[str, Facts] = {}
        for *_, name, value in sorted(entries, key=lambda e: (e[0], e[1], e[2])):
            tests.setdefault(name, value)
        found.stories[hadm] = replace(found.stories[hadm], imaging=tests)


def load_stories(
    index: NoteIndex, admissions: dict[int, Admission], wanted: set[int]
) -> NoteStories:
    """The stories of the `wanted` admissions: their chosen discharge summaries parsed, and
    their radiology reports where the folder has radiology.csv.gz."""
    found = NoteStories()
    _discharge(index, admissions, wanted, found)
    radiology = index.folder / "radiology.csv.gz"
    if radiology.is_file():
        _radiology(radiology, admissions, found)
    return found


# ---------------------------------------------------------------- merging into the case


def apply_story(
    story: NoteStory,
    patient: dict[str, Facts],
    exam: dict[str, Facts],
    tests: dict[str, Facts],
) -> tuple[dict[str, Facts], dict[str, Facts], dict[str, Facts]]:
    """The EHR-derived patient fields, examination and tests with the note's story merged in:
    the note's fields replace the EHR's where it has them; the EHR's social fields stay
    beside the note's social history."""
    merged = {**patient, **story.patient}
    social = patient.get("social_history")
    if "social_history" in story.patient and isinstance(social, dict):
        merged["social_history"] = {"History": story.patient["social_history"], **social}
    findings: dict[str, Facts] = dict(exam)
    if story.vitals_line:
        charted = findings.get("Vital_Signs")
        signs = dict(charted) if isinstance(charted, dict) else {}
        findings["Vital_Signs"] = {**signs, "Admission_Note": story.vitals_line}
    findings.update(story.exam)
    results = dict(tests)
    if story.imaging:
        results["Imaging"] = dict(story.imaging)
    return merged, findings, results


# ---------------------------------------------------------------- leak check

_COMMA = re.compile(r",\s")
_WITHOUT = re.compile(r"\s+without\s+", re.IGNORECASE)
_WITH = re.compile(r"\s+with\s+", re.IGNORECASE)
_LEADING = re.compile(r"^(?:other|unspecified)\s+", re.IGNORECASE)


def _variants(name: str) -> list[str]:
    head = _WITHOUT.split(_COMMA.split(name, maxsplit=1)[0], maxsplit=1)[0]
    if head.lower().startswith("acute "):
        head = _WITH.split(head, maxsplit=1)[0]
    return [name, head, _LEADING.sub("", name), _LEADING.sub("", head)]


def note_names(diagnosis: str, discharge: Iterable[str] = ()) -> list[str]:
    """Names of the admission's diagnosis searched for in a notes-derived case."""
    names: list[str] = []
    for name in [diagnosis, *discharge]:
        for variant in _variants(name.strip()):
            if variant and variant not in names:
                names.append(variant)
    return names


def leak_paths(scenario: Scenario, names: Sequence[str]) -> list[str]:
    """Doctor-visible field paths of `scenario` whose text names any of `names`."""
    matcher = NameMatcher(names)
    if not matcher:
        return []
    return [path for path, text in doctor_visible_text(scenario) if matcher.found_in(text)]
