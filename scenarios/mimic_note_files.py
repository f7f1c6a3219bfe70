"""Read MIMIC-IV-Note files: `note/discharge.csv.gz` and, where present, `note/radiology.csv.gz`.

Both files have exactly the columns note_id, subject_id, hadm_id, note_type, note_seq,
charttime, storetime, text (one note a row; the text holds line breaks inside quotes). Each
note is checked against the EHR's admissions:
- a note of a patient the EHR does not hold is skipped and counted (the full notes against a
  smaller EHR, such as the 100-patient demo, is an ordinary case);
- a note of a known patient for an admission the EHR does not hold, or for another patient's
  admission, is a problem naming the file and row, and is skipped;
- a row with a missing or unreadable field is a problem naming the file, row and field.
A file that cannot be read (not gzip, cut short, not UTF-8, not CSV, columns missing) is a
problem naming the file and, where reading stopped part way, the row; the rows read before it
are kept. Discharge summaries (`DS`) and radiology reports (`RR`) are read; addenda (`AD`,
`AR`) are counted and skipped.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

NOTE_COLUMNS = (
    "note_id",
    "subject_id",
    "hadm_id",
    "note_type",
    "note_seq",
    "charttime",
    "storetime",
    "text",
)
_FIELD_LIMIT = 64 * 1024 * 1024


class NoteFileError(Exception):
    """A notes folder or file that cannot be used at all (names it and says why)."""


@dataclass(frozen=True)
class NoteProblem:
    file: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f", row {self.row}" if self.row is not None else ""
        return f"{self.file}{where}: {self.message}"


@dataclass(frozen=True)
class Note:
    file: str
    row: int
    note_id: str
    subject_id: int
    hadm_id: int | None
    note_type: str
    note_seq: int
    charttime: datetime
    text: str


@dataclass(frozen=True)
class Admission:
    subject_id: int
    admittime: datetime
    age: int | None = None


@dataclass
class NoteRead:
    """What was wrong with, or left out of, the notes read so far."""

    problems: list[NoteProblem] = field(default_factory=list)
    other_patients: int = 0
    """Notes of patients the EHR does not hold (skipped)."""
    addenda: int = 0
    without_admission: int = 0
    """Notes with no hadm_id (outpatient radiology), skipped."""


def note_folder(directory: Path) -> Path:
    """The folder holding discharge.csv.gz: DIR/note (PhysioNet's layout) or DIR itself."""
    for folder in (directory / "note", directory):
        if (folder / "discharge.csv.gz").is_file():
            return folder
    if not directory.is_dir():
        raise NoteFileError(f"{directory}: no such folder")
    raise NoteFileError(
        f"{directory}: no note/discharge.csv.gz (expected MIMIC-IV-Note's layout: "
        "DIR/note/discharge.csv.gz, and DIR/note/radiology.csv.gz where present)"
    )


def _rows(path: Path, read: NoteRead) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    row = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = tuple(reader.fieldnames or ())
            missing = [name for name in NOTE_COLUMNS if name not in columns]
            if missing:
                found = ", ".join(columns) or "none"
                read.problems.append(
                    NoteProblem(
                        str(path),
                        None,
                        f"missing columns {', '.join(missing)} (found: {found}; "
                        f"expected: {', '.join(NOTE_COLUMNS)})",
                    )
                )
                return
            for row, values in enumerate(reader, start=1):
                yield row, values
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        kind = type(exc).__name__
        at = row + 1 if row else None
        read.problems.append(NoteProblem(str(path), at, f"cannot read the file ({kind}: {exc})"))


def _integer(values: dict[str, str], name: str, optional: bool = False) -> int | None:
    raw = (values.get(name) or "").strip()
    if not raw and optional:
        return None
    try:
        return int(float(raw)) if raw.endswith(".0") else int(raw)
    except ValueError:
        raise ValueError(f"field {name}: not an integer: {raw[:40]!r}") from None


def _note(path: Path, row: int, values: dict[str, str]) -> Note:
    subject = _integer(values, "subject_id")
    seq = _integer(values, "note_seq")
    hadm = _integer(values, "hadm_id", optional=True)
    raw_time = (values.get("charttime") or "").strip()
    try:
        charttime = datetime.fromisoformat(raw_time)
    except ValueError:
        raise ValueError(f"field charttime: not a date and time: {raw_time[:40]!r}") from None
    text = values.get("text") or ""
    if not text.strip():
        raise ValueError("field text: empty")
    assert subject is not None and seq is not None
    return Note(
        file=str(path),
        row=row,
        note_id=(values.get("note_id") or "").strip(),
        subject_id=subject,
        hadm_id=hadm,
        note_type=(values.get("note_type") or "").strip().upper(),
        note_seq=seq,
        charttime=charttime,
        text=text,
    )


def iter_notes(
    path: Path,
    note_type: str,
    admissions: dict[int, Admission],
    subjects: set[int],
    read: NoteRead,
) -> Iterator[Note]:
    """The notes of type `note_type` ('DS' or 'RR') in `path` that belong to an admission of
    the EHR, one at a time; every row that cannot be used adds a problem to `read`."""
    for row, values in _rows(path, read):
        try:
            note = _note(path, row, values)
        except ValueError as exc:
            read.problems.append(NoteProblem(str(path), row, str(exc)))
            continue
        if note.note_type != note_type:
            read.addenda += 1
            continue
        if note.subject_id not in subjects:
            read.other_patients += 1
            continue
        if note.hadm_id is None:
            read.without_admission += 1
            continue
        problem = _admission_problem(note, admissions)
        if problem:
            read.problems.append(NoteProblem(str(path), row, problem))
            continue
        yield note


def _admission_problem(note: Note, admissions: dict[int, Admission]) -> str | None:
    admission = admissions.get(note.hadm_id or 0)
    if admission is None:
        return (
            f"note {note.note_id}: hadm_id {note.hadm_id} is not an admission of subject "
            f"{note.subject_id} in the EHR"
        )
    if admission.subject_id != note.subject_id:
        return (
            f"note {note.note_id}: hadm_id {note.hadm_id} belongs to subject "
            f"{admission.subject_id}, not {note.subject_id}"
        )
    return None
