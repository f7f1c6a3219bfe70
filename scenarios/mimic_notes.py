"""A MIMIC-IV admission's story from its discharge summary and radiology reports.

What becomes part of the case:
- patient facts: the chief complaint (`symptoms.Primary_Symptom`); the history of present
  illness up to its emergency-department course (from a sentence such as "In the ED, ..."
  on, the paragraph is results and treatment, not the patient's account) as `history`; a
  "ROS:" paragraph or "Review of Systems:" section as `review_of_systems`; past medical and
  surgical history, medications on admission, allergies, social and family history. The
  subject of a sentence is made plain for the patient's voice ("Mr. ___ is a ___ year old man"
  -> "The patient is a 64-year-old man", with the age from the EHR); other "___" placeholders
  stay as de-identified;
- examination findings: the admission part of "Physical Exam:", one finding per labelled line
  ("CV: RRR, no murmurs" -> `Cardiovascular_Exam`), the note's vital-sign line beside the
  charted vital signs;
- imaging: the first radiology report of each kind of study up to 48 hours into the admission
  becomes a test result under `Imaging` (its FINDINGS and IMPRESSION; the INDICATION, which says
  what the ordering doctor suspected, is left out), named from the report's EXAMINATION line
  ("CHEST (PA AND LAT)" -> `Chest_X-ray`).

Never used: the discharge diagnosis, hospital course, pertinent results, procedures, and every
discharge section. The primary discharge diagnoses are read only to check the case: a case
whose doctor-visible text names the principal diagnosis or a primary discharge diagnosis
(`note_names`) is tagged `diagnosis-in-note` by the builder and flagged by the audit. Nothing
is rewritten to hide a diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clinsim.scenarios.mimic_note_files import Note
from clinsim.scenarios.model import Facts
from clinsim.scenarios.note_sections import (
    EXPOSED,
    admission_exam,
    discharge_sections,
    is_placeholder,
    items,
    paragraphs,
    radiology_sections,
)

IMAGING_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class NoteStory:
    """The case parts one discharge summary gives (patient facts keyed by PatientFacts field)."""

    note_id: str
    patient: dict[str, Facts]
    exam: dict[str, Facts]
    vitals_line: str | None
    diagnoses: tuple[str, ...]
    """Primary discharge diagnoses: sealed, used only to check the case for leaks."""
    imaging: dict[str, Facts] = field(default_factory=dict)


# ---------------------------------------------------------------- the patient's account

_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+_{2,}")
_PT = re.compile(r"\b[Pp]t\b\.?")
_SUBJECT = re.compile(r"\bthe patient\b")
_AGE = re.compile(r"_{2,}(?=\s*-?\s*(?:y/?o|yo|yr|year)\b)")
_YEARS_OLD = re.compile(
    r"\b(\d{1,3})\s*-?\s*(?:y/o|yo|y\.o\.|yr[- ]old|year[- ]old)(?=[\s,.;]|$)", re.IGNORECASE
)
_AN_AGE = re.compile(r"\b([Aa]) (?=(?:8\d?|11|18)-year-old)")
_ED_START = re.compile(
    r"^(?:(?:in|at|upon arrival (?:to|in)|on arrival (?:to|in)|on presentation to)\s+(?:the\s+)?"
    r"(?:_{2,}\s+)?(?:ED|E\.D\.|ER|emergency (?:department|room))\b|ED course\b|in ED\b)",
    re.IGNORECASE,
)
_ROS = re.compile(r"^(?:ROS|review of systems)\s*:?\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_BOILERPLATE = re.compile(
    r"preadmission medication list|information was obtained from|patient recorded as having",
    re.IGNORECASE,
)
_NO_ALLERGIES = re.compile(r"no known allergies|\bnkda\b|no known drug allergies", re.IGNORECASE)


def patient_voice(text: str, age: int | None) -> str:
    """The sentence subjects of a clinical text made plain for the patient's voice."""
    if age is not None:
        text = _AGE.sub(str(age), text)
    text = _YEARS_OLD.sub(r"\1-year-old", text)
    text = _AN_AGE.sub(r"\1n ", text)
    text = _HONORIFIC.sub("the patient", text)
    text = _PT.sub(lambda m: "the patient" if _starts_sentence(text, m.start()) else m[0], text)
    return _SUBJECT.sub(
        lambda m: "The patient" if _starts_sentence(text, m.start()) else m[0], text
    )


def _starts_sentence(text: str, at: int) -> bool:
    i = at - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i < 0 or text[i] == "\n" or (text[i] in ".!?" and i < at - 1)


def _history(text: str) -> tuple[str | None, str | None]:
    """(the patient's account, review of systems) of a history of present illness."""
    story: list[str] = []
    review: list[str] = []
    in_ed = False
    for paragraph in paragraphs(text):
        if _ROS.match(paragraph):
            review.append(_ROS.sub("", paragraph))
            continue
        if in_ed:
            continue
        for sentence in _SENTENCE.split(paragraph):
            if _ED_START.match(sentence):
                in_ed = True
                break
            story.append(sentence)
    return (" ".join(story) or None), (" ".join(review) or None)


def _allergies(text: str) -> Facts:
    lines = [line for line in items(text) if not _BOILERPLATE.search(line)]
    if not lines or _NO_ALLERGIES.search(text):
        return "No known allergies." if _NO_ALLERGIES.search(text) else None
    found: list[Facts] = [p.strip() for line in lines for p in line.split(" / ") if p.strip()]
    return found or None


def _listed(text: str | None) -> list[Facts] | None:
    if not text:
        return None
    found: list[Facts] = [
        i for i in items(text) if not _BOILERPLATE.search(i) and not i.endswith(":")
    ]
    return found or None


def _patient(sections: dict[str, str], age: int | None) -> dict[str, Facts]:
    voice = {key: patient_voice(v, age) for key, v in sections.items() if key in EXPOSED}
    story, review = _history(voice.get("history of present illness", ""))
    if "review of systems" in voice and not is_placeholder(voice["review of systems"]):
        review = " ".join(filter(None, [review, " ".join(paragraphs(voice["review of systems"]))]))
    complaint = "; ".join(items(voice.get("chief complaint", "")))
    history = (_listed(voice.get("past medical history")) or []) + (
        _listed(voice.get("past surgical history")) or []
    )
    facts: dict[str, Facts] = {
        "symptoms": {"Primary_Symptom": complaint} if complaint else None,
        "history": story,
        "review_of_systems": review,
        "past_medical_history": history or None,
        "medications": _listed(voice.get("medications on admission")),
        "allergies": _allergies(voice.get("allergies", "")),
        "social_history": _listed(voice.get("social history")),
        "family_history": _listed(voice.get("family history")),
    }
    return {key: value for key, value in facts.items() if value}


# ---------------------------------------------------------------- examination

_EXAM_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z /&.()-]{0,30}?)\s*:\s*(.*)$")
_EXAM_NAMES = {
    "general": "General_Appearance",
    "gen": "General_Appearance",
    "heent": "HEENT_Exam",
    "head": "HEENT_Exam",
    "eyes": "Eye_Exam",
    "neck": "Neck_Exam",
    "cv": "Cardiovascular_Exam",
    "cvs": "Cardiovascular_Exam",
    "cardiac": "Cardiovascular_Exam",
    "heart": "Cardiovascular_Exam",
    "cor": "Cardiovascular_Exam",
    "lungs": "Lung_Exam",
    "lung": "Lung_Exam",
    "pulm": "Lung_Exam",
    "pulmonary": "Lung_Exam",
    "resp": "Lung_Exam",
    "chest": "Lung_Exam",
    "abd": "Abdominal_Exam",
    "abdomen": "Abdominal_Exam",
    "gu": "Genitourinary_Exam",
    "rectal": "Rectal_Exam",
    "back": "Back_Exam",
    "msk": "Musculoskeletal_Exam",
    "ext": "Extremities_Exam",
    "extr": "Extremities_Exam",
    "extremities": "Extremities_Exam",
    "skin": "Skin_Exam",
    "neuro": "Neurological_Exam",
    "neurologic": "Neurological_Exam",
    "psych": "Psychiatric_Exam",
    "lymph": "Lymph_Node_Exam",
}
_VITALS_LABELS = {"vs", "vitals", "vital signs", "v/s"}
_VITALS_KEY = "\0vitals"


def _exam(text: str) -> tuple[dict[str, Facts], str | None]:
    """(findings by exam name, the vital-sign line) of an admission examination."""
    findings: dict[str, str] = {}
    vitals: str | None = None
    current: str | None = None
    for line in admission_exam(text).splitlines():
        match = _EXAM_LINE.match(line)
        if match:
            label, value = match.group(1).strip(), match.group(2).strip()
            if label.lower() in _VITALS_LABELS:
                vitals, current = value, _VITALS_KEY
                continue
            current = _EXAM_NAMES.get(label.lower(), "_".join(label.split()) + "_Exam")
            findings[current] = f"{findings.get(current, '')} {value}".strip()
        elif current == _VITALS_KEY and line.strip():
            vitals = f"{vitals} {line.strip()}".strip()
        elif current and line.strip():
            findings[current] = f"{findings[current]} {line.strip()}".strip()
        elif line.strip():
            findings["Other_Findings"] = f"{findings.get('Other_Findings', '')} {line.strip()}"
    kept = {k: v.strip() for k, v in findings.items() if not is_placeholder(v)}
    return dict(kept), (vitals if vitals and not is_placeholder(vitals) else None)


# ---------------------------------------------------------------- discharge diagnosis

_DX_COLON = re.compile(
    r"^(?P<kind>primary|principal|secondary|other|chronic|active|resolved)\b[^:]{0,30}:\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_DX_BARE = re.compile(
    r"^(?P<kind>primary|principal|secondary|other)(?:\s+(?:diagnos[ie]s|dx|problems?))?\s*$",
    re.IGNORECASE,
)
_LIST_MARK = re.compile(r"^\s*(?:[-*•+#]|\d{1,2}[.)])\s*")


def primary_diagnoses(text: str) -> tuple[str, ...]:
    """The primary diagnoses of a "Discharge Diagnosis:" section: the lines under a
    'Primary' label, or every line before a 'Secondary' label when there is none."""
    names: list[str] = []
    primary = True
    for raw in text.splitlines():
        line = _LIST_MARK.sub("", raw).strip()
        label = _DX_COLON.match(line) or _DX_BARE.match(line)
        if label:
            primary = label.group("kind").lower() in ("primary", "principal")
            line = (label.groupdict().get("rest") or "").strip()
        if primary and line and not is_placeholder(line):
            names.append(line.rstrip(" .;"))
    return tuple(names[:6])


# ---------------------------------------------------------------- the discharge summary


def read_story(note: Note, age: int | None) -> NoteStory:
    sections = discharge_sections(note.text)
    exam, vitals = _exam(sections.get("physical exam", ""))
    return NoteStory(
        note_id=note.note_id,
        patient=_patient(sections, age),
        exam=exam,
        vitals_line=vitals,
        diagnoses=primary_diagnoses(sections.get("discharge diagnosis", "")),
    )


# ---------------------------------------------------------------- radiology

_US = r"(?:\bUS\b|\bU\.S\.|\bULTRASOUND\b)"
_STUDIES: tuple[tuple[str, str], ...] = (
    (r"\bCTA\b.*\b(CHEST|PULM|PE)\b|\bCT\b.*\bPULMONARY ANGIO", "CT_Angiogram_Chest"),
    (r"\bCT\b.*\bHEAD\b", "CT_Head"),
    (r"\bCT\b.*\b(ABD|ABDOMEN)\b.*\bPEL", "CT_Abdomen_and_Pelvis"),
    (r"\bCT\b.*\b(ABD|ABDOMEN)\b", "CT_Abdomen"),
    (r"\bCT\b.*\bCHEST\b", "CT_Chest"),
    (r"\bCT\b.*\b(C-?SPINE|CERVICAL)\b", "CT_Cervical_Spine"),
    (r"\bMR[AI]?\b.*\b(HEAD|BRAIN)\b", "MRI_Brain"),
    (r"\bCHEST\b.*\b(PA|LAT|AP|PORTABLE|SINGLE|FRONTAL|VIEW)\b|^CHEST\s*\(", "Chest_X-ray"),
    (
        r"\b(EXT VEINS|LOWER EXT|LOWER EXTREMITY VEIN|LE VEINS)\b",
        "Lower_Extremity_Venous_Ultrasound",
    ),
    (rf"\b(RENAL|KIDNEY)\b.*{_US}", "Renal_Ultrasound"),
    (
        rf"\b(LIVER|GALLBLADDER|RUQ|ABD|ABDOMEN)\b.*{_US}",
        "Abdominal_Ultrasound",
    ),
    (rf"\bPELVIS\b.*{_US}", "Pelvic_Ultrasound"),
    (r"\bECHO", "Echocardiogram"),
)
_PLAIN_FILM = re.compile(
    r"\b(SHOULDER|HUMERUS|KNEE|HIP|PELVIS|ANKLE|WRIST|HAND|FOOT|FEMUR|ELBOW|FOREARM|TIBIA|"
    r"FIBULA|RIBS?|ABDOMEN|L-?SPINE|T-?SPINE|C-?SPINE)\b.*\b(VIEWS?|AP|PA|LAT|OBL\w*)\b"
)
_NOT_RESULT = frozenset(
    {
        "examination",
        "indication",
        "history",
        "clinical history",
        "clinical information",
        "reason for exam",
        "technique",
        "comparison",
        "notification",
    }
)


def imaging_test_name(exam: str) -> str:
    """The test a radiology EXAMINATION line names ("CHEST (PA AND LAT)" -> "Chest_X-ray")."""
    upper = " ".join(exam.upper().split())
    for pattern, name in _STUDIES:
        if re.search(pattern, upper):
            return name
    film = _PLAIN_FILM.search(upper)
    if film and not re.search(rf"\b(?:CT|CTA|MR|MRI|MRA)\b|{_US}", upper):
        return f"{film.group(1).capitalize()}_X-ray"
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", exam).split()
    return "_".join(w.capitalize() for w in words[:8]) or "Imaging_Study"


def _flat(text: str) -> str:
    return "\n".join(paragraphs(text))


def imaging_result(note: Note) -> tuple[str, dict[str, Facts]] | None:
    """(test name, {"Findings": ..., "Impression": ...}) of a radiology report, or None."""
    sections = radiology_sections(note.text)
    exam = sections.get("examination") or next(
        (line for line in note.text.splitlines() if line.strip()), ""
    )
    result: dict[str, Facts] = {}
    for key, label in (("findings", "Findings"), ("impression", "Impression")):
        if key in sections and not is_placeholder(sections[key]):
            result[label] = _flat(sections[key])
    if not result:
        rest = [v for k, v in sections.items() if k and k not in _NOT_RESULT]
        if rest and not all(is_placeholder(v) for v in rest):
            result["Report"] = _flat("\n\n".join(rest))
    if not result:
        return None
    return imaging_test_name(exam.splitlines()[0] if exam else ""), result


def imaging_tests(reports: list[Note], admittime: datetime) -> dict[str, Facts]:
    """The first report of each study up to `IMAGING_WINDOW` after admission, by test name."""
    tests: dict[str, Facts] = {}
    ordered = sorted(reports, key=lambda n: (n.charttime, n.note_seq, n.note_id))
    for note in ordered:
        if note.charttime >= admittime + IMAGING_WINDOW:
            continue
        found = imaging_result(note)
        if found and found[0] not in tests:
            tests[found[0]] = found[1]
    return tests
