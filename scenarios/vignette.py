"""A case as one vignette: everything the simulated world knows, written out at once.

CRAFT-MD compares doctors given the whole case as a vignette with the same doctors gathering it
in a conversation. `case_vignette` takes a `Case` (never a scenario, so never its answer key) and
writes the objective, the patient's history, the examination, the test results and the images'
captions as plain text, nested values as indented lines.
"""

from __future__ import annotations

from pydantic import JsonValue

from clinsim.scenarios.model import Case, ImageRef

INDENT = "  "
_PATIENT_FIELDS = (
    ("demographics", "Patient"),
    ("history", "History"),
    ("symptoms", "Symptoms"),
    ("past_medical_history", "Past medical history"),
    ("social_history", "Social history"),
    ("family_history", "Family history"),
    ("review_of_systems", "Review of systems"),
    ("medications", "Medications"),
    ("allergies", "Allergies"),
)


def label(key: str) -> str:
    """'Primary_Symptom' -> 'Primary symptom'; acronyms ('CRP', 'SARS-CoV-2') stay as written."""
    words = key.replace("_", " ").split()
    kept = [words[0]] if words else []
    for word in words[1:]:
        acronym = word.isupper() or any(c.isdigit() for c in word) or word[1:] != word[1:].lower()
        kept.append(word if acronym else word.lower())
    return " ".join(kept)


def _scalar(value: JsonValue) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flat(value: JsonValue) -> bool:
    """A value written on one line: a scalar, or a list of scalars."""
    return _scalar(value) or (isinstance(value, list) and all(_scalar(v) for v in value))


def _inline(value: JsonValue) -> str:
    if isinstance(value, list):
        return ", ".join(_inline(v) for v in value)
    if value is None:
        return "-"
    return str(value)


def fact_lines(value: JsonValue, depth: int = 0) -> list[str]:
    """A free-form value as lines: `key: value` for flat entries, nested maps indented."""
    pad = INDENT * depth
    if _flat(value):
        text = _inline(value)
        return [pad + text] if text else []
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _flat(item):
                lines.append(f"{pad}{label(str(key))}: {_inline(item)}")
            else:
                lines.append(f"{pad}{label(str(key))}:")
                lines += fact_lines(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            lines += fact_lines(item, depth)
    return lines


def _section(title: str, entries: dict[str, JsonValue]) -> list[str]:
    body = fact_lines({k: v for k, v in entries.items() if v not in (None, "", [], {})}, 1)
    return [title, *body] if body else []


def _image_line(image: ImageRef) -> str:
    parts = [image.id]
    if image.modality:
        parts.append(f"({image.modality})")
    if image.caption:
        parts.append(f"{image.caption}")
    return INDENT + " ".join(parts)


def case_vignette(case: Case) -> str:
    """The whole case as text, sections in the order a case report gives them."""
    lines = [case.objective]
    if case.question:
        lines.append(case.question)
    patient = case.patient
    history = {title: getattr(patient, name) for name, title in _PATIENT_FIELDS}
    history |= {label(key): value for key, value in patient.other.items()}
    for block in (
        _section("History", history),
        _section("Examination", dict(case.exam)),
        _section("Test results", dict(case.tests)),
    ):
        if block:
            lines += ["", *block]
    if case.images:
        lines += ["", "Images", *(_image_line(image) for image in case.images)]
    return "\n".join(lines)
