"""Deterministic measurement: look up an ordered test or examination in the scenario.

The case's test results and examination findings are nested maps with free-form keys
(`Blood_Tests > Acetylcholine_Receptor_Antibodies`, `Imaging > Chest_CT > Findings`). Every key
at every depth becomes an addressable entry; an order matches the entry whose name reads the
same after canonicalisation (`clinsim.environments.test_names`), so "chest x-ray", "CXR" and
"chest radiograph" all find `Chest_X-Ray`. A group order ("blood tests") returns the whole
group; a leaf order returns the leaf, with its parent path in `matched`. "physical examination"
returns every examination finding.

Match order, first that applies:
1. the same canonical name (score 100), or the same words in another order (97);
2. a panel ordered by name (CBC, BMP, LFTs, ...) that the scenario holds only as members
   (MIMIC-style flat lab names): all members present are returned together;
3. a related name (BMP answered by `Serum_Electrolytes`, 90), a near spelling (rapidfuzz ratio
   >= 90) or a less/more specific name ("CT" for `Chest_CT`), scored lower, threshold 70.
Ties go to the shallower entry, then to source order (tests before examination). Nothing
random: the same order on the same case always gives the same answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field
from rapidfuzz import fuzz

from clinsim.environments.factories import RoleRequest, measurement
from clinsim.environments.roles import MeasurementTurn
from clinsim.environments.test_names import (
    PANELS,
    RELATED,
    SPECIMEN_WORDS,
    TEST_WORDS,
    canonical_name,
    canonical_tokens,
    plain_words,
)
from clinsim.plugins import Config
from clinsim.scenarios.model import Case, Facts

__all__ = [
    "NORMAL_READINGS",
    "NOT_AVAILABLE",
    "Entry",
    "LookupConfig",
    "LookupMeasurement",
    "flatten",
    "render_value",
    "split_findings",
]

NOT_AVAILABLE = "Test not available for this patient."
NORMAL_READINGS = "NORMAL READINGS"
EXAM_ROOT = "Physical_Examination"
THRESHOLD = 70.0
EXACT = 97.0
_EXAM_NAMES = (("physical", "exam"), ("exam",))


@dataclass(frozen=True)
class Entry:
    """One addressable key of the case's tests or examination."""

    path: tuple[str, ...]
    value: Facts
    order: int
    names: tuple[tuple[str, ...], ...]
    plain: tuple[str, ...]

    @property
    def label(self) -> str:
        return " > ".join(self.path)

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def own(self) -> str:
        return " ".join(canonical_tokens(self.path[-1]))


def _names(path: tuple[str, ...], parent_real: bool) -> tuple[tuple[str, ...], ...]:
    """Canonical names an entry answers to: its own key, parent and key, the whole path
    (below the examination root); a key that is all filler ("Findings") keeps its words."""
    own = canonical_tokens(path[-1])
    real = path[1:] if path[0] == EXAM_ROOT else path
    names: list[tuple[str, ...]] = []
    if own and not (" ".join(own) in _blood_names() and _in_specimen(real[:-1])):
        names.append(own)
        names.extend(a for a in abbreviations(path[-1]) if a not in names)
    if parent_real:
        for size in (2, len(real)):
            joined = canonical_tokens(" ".join(real[-size:]))
            if joined and joined not in names:
                names.append(joined)
    if not own:
        fallback = tuple(plain_words(path[-1]))
        if fallback and fallback not in names:
            names.append(fallback)
    return tuple(names)


def flatten(case: Case) -> list[Entry]:
    """Every key of `case.tests` and `case.exam`, depth-first in source order; the
    examination root is itself an entry ("physical examination")."""
    entries: list[Entry] = []

    def walk(mapping: dict[str, Facts], prefix: tuple[str, ...], parent_real: bool) -> None:
        for key, value in mapping.items():
            path = (*prefix, key)
            names = _names(path, parent_real)
            own = canonical_tokens(key)
            plain = _plain(key) if not own or own in names else ()
            entries.append(Entry(path, value, len(entries), names, plain))
            if isinstance(value, dict):
                walk(value, path, True)
            elif isinstance(value, str) and not canonical_tokens(key):
                walk(split_findings(value), path, False)

    walk(case.tests, (), False)
    if case.exam:
        root: dict[str, Facts] = dict(case.exam)
        entries.append(Entry((EXAM_ROOT,), root, len(entries), _EXAM_NAMES, ()))
        walk(case.exam, (EXAM_ROOT,), False)
    return entries


@lru_cache(maxsize=1)
def _blood_names() -> frozenset[str]:
    members = {name for panel in PANELS.values() for name in panel}
    return frozenset(canonical_name(name) for name in (*members, *PANELS, "blood", "lab"))


_BULLET = re.compile(r"\s+-\s+|(?<=[.;])\s+(?=\*{0,2}[A-Z][^:.]{2,80}:\s)")
_LABELLED = re.compile(r"^\*{0,2}([A-Za-z][^:]{1,80}?)\*{0,2}:\s*(.*)$", re.DOTALL)
_TRAILING_HEADING = re.compile(r"^(.*?[.)a-z0-9])\s+([A-Z][A-Za-z ()/-]{2,60}):$", re.DOTALL)


def split_findings(text: str) -> dict[str, Facts]:
    """Labelled parts of a free-text findings blob (NEJM cases put a whole work-up under one
    `Findings` key): 'Chest radiograph: X. - Heart catheterization: Y.' -> {'Chest
    radiograph': 'X.', 'Heart catheterization': 'Y.'}; items under a heading ('Laboratory
    studies: - A - B: 1') are joined under the heading too. Unlabelled text is left out here
    (the blob itself stays addressable)."""
    parts: dict[str, Facts] = {}
    heading: str | None = None
    segments = [seg.strip(" -*") for seg in _BULLET.split(text.strip())]
    for segment in segments:
        trailing = _TRAILING_HEADING.match(segment)
        next_heading = None
        if trailing:
            segment, next_heading = trailing.group(1), trailing.group(2)
        labelled = _LABELLED.match(segment)
        if labelled and labelled.group(2).strip():
            label, value = labelled.group(1).strip(), labelled.group(2).strip()
            parts.setdefault(label, value)
            if heading is not None:
                parts[heading] = f"{parts[heading]}; {label}: {value}".lstrip("; ")
        elif labelled:
            heading = labelled.group(1).strip()
            parts.setdefault(heading, "")
        elif heading is not None and segment:
            parts[heading] = f"{parts[heading]}; {segment}".lstrip("; ")
        if next_heading:
            heading = next_heading
            parts.setdefault(heading, "")
    return {label: value for label, value in parts.items() if value}


def _in_specimen(ancestors: tuple[str, ...]) -> bool:
    return any(SPECIMEN_WORDS.intersection(canonical_tokens(key)) for key in ancestors)


def _plain(key: str) -> tuple[str, ...]:
    return tuple(plain_words(key))


def _related(request: str) -> frozenset[str]:
    return frozenset(canonical_name(name) for name in RELATED.get(request, ()))


def _panel(request: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(canonical_tokens(name)) for name in PANELS.get(request, ()))


_QUALIFIERS = frozenset(
    ["total", "direct", "indirect", "absolute", "count", "blood", "free", "whole", "fasting"]
)
_ABBREVIATION = re.compile(r"\s\(([A-Za-z0-9 -]{1,12})\)")


def abbreviations(key: str) -> list[tuple[str, ...]]:
    """Canonical words of abbreviations a key spells out: 'Alanine Aminotransferase (ALT)'."""
    found = (canonical_tokens(text) for text in _ABBREVIATION.findall(key))
    return [words for words in found if words]


def _is_member(key: str, members: tuple[frozenset[str], ...]) -> bool:
    """The key names a panel member, in any word order and with qualifiers such as "total"
    ("Bilirubin, Total" is "total bilirubin"), or by its abbreviation."""
    for words in (canonical_tokens(key), *abbreviations(key)):
        held = set(words)
        if any(m <= held and held - m <= _QUALIFIERS for m in members):
            return True
    return False


def name_score(request: tuple[str, ...], name: tuple[str, ...]) -> float:
    """How well a canonical request names a canonical entry name (0-100)."""
    if not request or not name:
        return 0.0
    if request == name:
        return 100.0
    asked, held = set(request), set(name)
    if asked == held:
        return EXACT
    score = 0.0
    ratio = fuzz.ratio(" ".join(request), " ".join(name))
    if ratio >= 90:
        score = ratio * 0.95
    extra = asked ^ held
    if TEST_WORDS.intersection(extra):
        return score  # differs by a word that names another test
    if SPECIMEN_WORDS.intersection(extra) and " ".join(request) in _blood_names():
        return score  # "glucose" is a blood glucose, not `Urinalysis > Glucose`
    if asked < held:  # the order is less specific: "CT" for Chest_CT
        score = max(score, 80.0 - 2.0 * (len(held) - len(asked)))
    elif held < asked and (len(held) >= 2 or 3 * len(held) >= 2 * len(asked)):
        score = max(score, 75.0 - 2.0 * (len(asked) - len(held)))
    return score


class LookupMeasurement:
    """Answers test and examination orders from the case (implements `Measurement`).

    With `normal_readings=True` an order the case lacks is answered "NORMAL READINGS", as
    AgentClinic's measurement agent does, instead of "Test not available for this patient."
    """

    def __init__(self, case: Case, normal_readings: bool = False):
        self.case = case
        self.normal_readings = normal_readings
        self.entries = flatten(case)

    async def report(self, test: str) -> MeasurementTurn:
        return self.lookup(test)

    def lookup(self, test: str) -> MeasurementTurn:
        found = self.find(test)
        if not found:
            text = NORMAL_READINGS if self.normal_readings else NOT_AVAILABLE
            return MeasurementTurn(matched=None, available=False, result=text)
        matched = ", ".join(entry.label for entry in found)
        result = "\n".join(render_entry(entry) for entry in found)
        return MeasurementTurn(matched=matched, available=True, result=result)

    def find(self, test: str) -> list[Entry]:
        """The entries an order names: one, several (a panel's members) or none."""
        request = canonical_tokens(test)
        plain = tuple(w for w in plain_words(test) if w)
        if not request and not plain:
            return []
        scored = [(self._score(entry, request, plain), entry) for entry in self.entries]
        best_score, best = max(scored, key=_rank, default=(0.0, None))
        if best is not None and best_score >= EXACT:
            return [best]
        members = self._panel_members(" ".join(request))
        if members:
            return members
        if best is not None and best_score >= THRESHOLD:
            return [best]
        return []

    def _score(self, entry: Entry, request: tuple[str, ...], plain: tuple[str, ...]) -> float:
        # a name built from the path counts a little less than the entry's own key
        score = max(
            (name_score(request, name) - 0.5 * i for i, name in enumerate(entry.names)),
            default=0.0,
        )
        if score < EXACT and request:
            joined = " ".join(request)
            if any(" ".join(name) in _related(joined) for name in entry.names):
                score = max(score, 90.0)
        if score < EXACT and plain and entry.plain:
            ratio = fuzz.ratio(" ".join(plain), " ".join(entry.plain))
            if ratio >= 90:
                score = max(score, ratio * 0.95)
        return score

    def _panel_members(self, request: str) -> list[Entry]:
        members = _panel(request)
        if not members:
            return []
        chosen: list[Entry] = []
        for entry in self.entries:
            inside = any(entry.path[: len(c.path)] == c.path for c in chosen)
            member = _is_member(entry.path[-1], members)
            if member and not inside and not _in_specimen(entry.path[:-1]):
                chosen.append(entry)
        return chosen


def _rank(item: tuple[float, Entry | None]) -> tuple[float, int, int]:
    score, entry = item
    assert entry is not None
    return (score, -entry.depth, -entry.order)


def _label(entry: Entry) -> str:
    if entry.own or len(entry.path) == 1:
        return entry.path[-1]
    return " > ".join(entry.path[-2:])


def render_entry(entry: Entry) -> str:
    """An entry as compact text: `Chest_CT: Findings: Normal`, nested maps as indented lines."""
    return "\n".join(render_value(_label(entry), entry.value))


def render_value(name: str, value: Facts, indent: int = 0) -> list[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return [f"{pad}{name}: (none)"]
        if len(value) == 1:
            ((key, child),) = value.items()
            if not isinstance(child, dict | list):
                return [f"{pad}{name}: {key}: {_scalar(child)}"]
        lines = [f"{pad}{name}:"]
        for key, child in value.items():
            lines.extend(render_value(key, child, indent + 1))
        return lines
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [f"{pad}{name}: " + "; ".join(_scalar(item) for item in value)]
        lines = [f"{pad}{name}:"]
        for number, item in enumerate(value, 1):
            lines.extend(render_value(f"[{number}]", item, indent + 1))
        return lines
    return [f"{pad}{name}: {_scalar(value)}"]


def _scalar(value: Facts) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


class LookupConfig(Config):
    normal_readings: bool = Field(
        default=False, description="Answer tests the scenario lacks with 'NORMAL READINGS'."
    )


@measurement("lookup", config=LookupConfig)
def lookup(request: RoleRequest, config: LookupConfig) -> LookupMeasurement:
    """Finds the ordered test or examination in the scenario (no model)."""
    return LookupMeasurement(request.scenario.case, normal_readings=config.normal_readings)
