"""Split MIMIC-IV-Note texts into their sections, and the parts of sections clinsim reads.

A discharge summary is a run of sections, each opened by a heading at the start of a line,
"Chief Complaint:", "History of Present Illness:", "Physical Exam:", "Discharge Diagnosis:" and
so on (`DISCHARGE_HEADINGS`); a heading's content may start on the heading's own line
("Allergies: Penicillins"). Only the listed headings open a section, case-insensitively and with
up to four more words before the colon ("Discharge Diagnoses:", "Pertinent Results and
Studies:"); exam labels ("Neck:"), lab labels and sub-headings stay content. A heading whose
extra words say "discharge" ("Physical Exam on Discharge:") opens a section of its own under
"<heading> (discharge)", never the admission one. Radiology reports work the same way with
`RADIOLOGY_HEADINGS` ("EXAMINATION:", "INDICATION:", "FINDINGS:", "IMPRESSION:", ...).

The physical examination holds the admission and the discharge examination under one heading,
told apart by sub-labels ("ADMISSION PHYSICAL EXAM:", "Admission:", "DISCHARGE EXAM:", "On
discharge:", "=== DISCHARGE ==="); `admission_exam` keeps only the admission part. De-identified
text keeps MIMIC's "___" placeholders; `is_placeholder` tells a section that says nothing else.
"""

from __future__ import annotations

import re
from functools import lru_cache

DISCHARGE_HEADINGS = (
    "name",
    "unit no",
    "admission date",
    "discharge date",
    "date of birth",
    "sex",
    "service",
    "allergies",
    "attending",
    "chief complaint",
    "major surgical or invasive procedure",
    "history of present illness",
    "review of systems",
    "past medical history",
    "past surgical history",
    "social history",
    "family history",
    "physical exam",
    "physical examination",
    "pertinent results",
    "brief hospital course",
    "hospital course",
    "medications on admission",
    "discharge medications",
    "discharge disposition",
    "facility",
    "discharge diagnosis",
    "discharge diagnoses",
    "discharge condition",
    "discharge instructions",
    "followup instructions",
    "follow-up instructions",
    "follow up instructions",
)
RADIOLOGY_HEADINGS = (
    "examination",
    "exam",
    "indication",
    "history",
    "clinical history",
    "clinical information",
    "reason for exam",
    "technique",
    "comparison",
    "comparisons",
    "findings",
    "impression",
    "conclusion",
    "recommendation",
    "recommendations",
    "notification",
    "addendum",
    "wet read",
)
_ALIASES = {
    "physical examination": "physical exam",
    "hospital course": "brief hospital course",
    "discharge diagnoses": "discharge diagnosis",
    "follow-up instructions": "followup instructions",
    "follow up instructions": "followup instructions",
    "exam": "examination",
    "comparisons": "comparison",
    "recommendations": "recommendation",
}
EXPOSED = frozenset(
    {
        "allergies",
        "chief complaint",
        "history of present illness",
        "review of systems",
        "past medical history",
        "past surgical history",
        "social history",
        "family history",
        "physical exam",
        "medications on admission",
    }
)
"""Discharge-summary sections that may become case facts; every other section is sealed."""
_LATE_EXPOSED = frozenset({"medications on admission"})
_HEADING_LINE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9 \t()/&,'-]{0,80}?)[ \t]*:(.*)$")


def _heading(line: str, headings: tuple[str, ...], extra_words: int) -> tuple[str, str] | None:
    """(section key, text after the colon) when `line` opens a section, else None."""
    if ":" not in line:
        return None
    match = _HEADING_LINE.match(line)
    if not match:
        return None
    words = match.group(1).lower().replace("\t", " ").split()
    known = _known(headings)
    for size in range(len(words), max(0, len(words) - extra_words - 1), -1):
        heading = " ".join(words[:size])
        if heading in known:
            return _key(heading, " ".join(words[size:])), match.group(2)
    name = " ".join(words)
    if extra_words and (
        (words[0] == "discharge" and len(words) <= 5)
        or ("hospital course" in name and len(words) <= 6)
    ):
        return name, match.group(2)  # an unlisted discharge-time heading: sealed
    return None


@lru_cache(maxsize=4)
def _known(headings: tuple[str, ...]) -> frozenset[str]:
    return frozenset(headings)


def _key(name: str, extra: str) -> str:
    key = _ALIASES.get(name, name)
    if "discharge" in extra and "discharge" not in key:
        return f"{key} (discharge)"
    return key


def split_sections(text: str, headings: tuple[str, ...], extra_words: int = 0) -> dict[str, str]:
    """Section key (lower case, aliases merged) -> content, in note order. Text before the
    first heading is under "". A heading that comes again adds to its section."""
    sections: dict[str, list[str]] = {}
    key = ""
    for line in text.splitlines():
        found = _heading(line, headings, extra_words)
        if found is None:
            sections.setdefault(key, []).append(line)
            continue
        key, rest = found
        sections.setdefault(key, []).append(rest)
    joined = {k: "\n".join(lines).strip() for k, lines in sections.items()}
    return {k: v for k, v in joined.items() if v}


def discharge_sections(text: str) -> dict[str, str]:
    """Sections of a discharge summary. Once a sealed section of the note's body has begun
    (results, hospital course, anything 'discharge ...'), a later exposed heading other than
    "Medications on Admission" is read as text of the section it is in: a stray "Allergies:"
    line inside the discharge instructions does not expose what follows it."""
    sections: dict[str, list[str]] = {}
    key, body_started = "", False
    for line in text.splitlines():
        found = _heading(line, DISCHARGE_HEADINGS, 4)
        if found is not None and body_started and found[0] in EXPOSED - _LATE_EXPOSED:
            found = None
        if found is None:
            sections.setdefault(key, []).append(line)
            continue
        key, rest = found
        body_started = body_started or key in _BODY or ("discharge" in key and key not in _HEADER)
        sections.setdefault(key, []).append(rest)
    joined = {k: "\n".join(lines).strip() for k, lines in sections.items()}
    return {k: v for k, v in joined.items() if v}


_BODY = frozenset({"pertinent results", "brief hospital course"})
_HEADER = frozenset(
    {"name", "unit no", "admission date", "discharge date", "date of birth", "sex", "service"}
    | {"attending"}
)


def radiology_sections(text: str) -> dict[str, str]:
    return split_sections(text, RADIOLOGY_HEADINGS)


def is_placeholder(text: str) -> bool:
    """True when nothing but de-identification placeholders and punctuation is left."""
    return not any(c.isalnum() for c in text)  # "_" is not alphanumeric


# ---------------------------------------------------------------- physical examination

_PART_LABEL = re.compile(
    r"^[\s=*#-]*(?:(?:on|at|day\s+of)\s+)?(?P<which>admission|admit|discharge)"
    r"(?:\s+(?:physical\s+)?(?:exam(?:ination)?|pe))?"
    r"|^[\s=*#-]*(?:physical\s+)?exam(?:ination)?\s+(?:on|at|upon)\s+(?P<which2>admission|discharge)",
    re.IGNORECASE,
)
_LABEL_END = re.compile(r"^[\s=*#-]*:?[\s=*#-]*(?P<rest>.*)$")


def _part_label(line: str) -> tuple[str, str] | None:
    """('admission' | 'discharge', text after the label) for a sub-label line, else None."""
    match = _PART_LABEL.match(line)
    if not match:
        return None
    tail = _LABEL_END.match(line[match.end() :])
    rest = tail.group("rest") if tail else ""
    if rest and not line[match.end() :].lstrip(" =*#-").startswith(":"):
        return None  # "Admission weight 80 kg": a finding, not a label
    which = (match.group("which") or match.group("which2") or "").lower()
    return ("discharge" if which == "discharge" else "admission"), rest


def admission_exam(text: str) -> str:
    """The admission examination of a "Physical Exam:" section: the lines under an admission
    sub-label, or the lines before the first discharge sub-label when there is none."""
    kept: list[str] = []
    part = "admission"
    for line in text.splitlines():
        label = _part_label(line)
        if label is not None:
            part, rest = label
            line = rest
        if part == "admission" and line.strip(" =*#-"):
            kept.append(line)
    return "\n".join(kept).strip()


# ---------------------------------------------------------------- items and paragraphs

_BULLET = re.compile(r"^\s*(?:[-*•+]|[a-z][.)])\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+")
_LABEL = re.compile(r"^\s*[A-Za-z][\w /&()'+-]{0,40}:\s*\S")


def items(text: str) -> list[str]:
    """The items of a list-like section (past history, medications, social history). A line
    starts an item when it starts with a bullet, the next number of a numbered list ("1.",
    "2." after it, so a wrapped "60." is no bullet), a 'Label:' or a capital letter, or follows
    a blank line; any other line (lower case, a digit, "___") continues the item before.
    Bullets and numbers are removed; placeholder-only items are dropped."""
    found: list[list[str]] = []
    current: list[str] | None = None
    number = 0
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        numbered = _NUMBERED.match(line)
        if numbered and int(numbered.group(1)) in (1, number + 1):
            number = int(numbered.group(1))
            line = line[numbered.end() :]
            starts = True
        else:
            starts = bool(_BULLET.match(line) or _LABEL.match(line) or line.lstrip()[:1].isupper())
        if current is None or starts:
            current = []
            found.append(current)
        current.append(_BULLET.sub("", line).strip())
    joined = (" ".join(parts).strip() for parts in found)
    return [item for item in joined if not is_placeholder(item)]


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its line breaks joined."""
    blocks = re.split(r"\n\s*\n", text.strip())
    joined = (" ".join(block.split()) for block in blocks)
    return [block for block in joined if not is_placeholder(block)]
