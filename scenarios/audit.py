"""Scenario audit: find scenarios that give their answer away, or do not ask for a diagnosis.

Rule for a leak: a name of the correct diagnosis (the key's diagnosis and synonyms, each also
split into its main text and any parenthesised alias, "Benign paroxysmal positional vertigo
(BPPV)" -> both names) occurs as a whole phrase, after `clinsim.scenarios.text.terms`
normalisation (case, accents, possessives, punctuation, plurals), in any text the doctor can
be shown: the objective, the case question, patient facts, examination findings, test results
(values, and test names as `#key` paths) and image captions.

A MIMIC scenario built from notes is flagged when the builder tagged it `diagnosis-in-note`: its
doctor-visible text names the principal diagnosis or a primary discharge diagnosis by a name the
phrase rule above does not search for ("Acute appendicitis" for "Acute appendicitis with
generalized peritonitis", "NSTEMI" from the note's discharge diagnosis, which the scenario does
not keep); see `clinsim.scenarios.mimic_note_cases`.

A NEJM-format scenario whose final question is not "what is the (most likely) diagnosis?"
("What is the most likely cause?", "Which organism ...?", "What is the best treatment?") is
flagged too: a diagnosis judge does not fit it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from clinsim.scenarios.loader import LoadReport
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.text import contains_phrase, iter_text, split_parentheses, terms, words

FindingKind = Literal[
    "diagnosis-in-case",
    "diagnosis-in-field-name",
    "diagnosis-in-ehr",
    "diagnosis-in-note",
    "question-not-diagnosis",
]
EHR_LEAK_TAG = "diagnosis-in-ehr-history"
"""Set by the MIMIC scenario builder when the diagnosis was coded at an earlier admission."""
NOTE_LEAK_TAG = "diagnosis-in-note"
"""Set by the MIMIC scenario builder when notes-derived text names the diagnosis."""
ExtraNames = Callable[[str], Iterable[str]]
"""Given a diagnosis, more names for it (e.g. the judge's synonym table)."""

_DIAGNOSIS_QUESTION = re.compile(
    r"^(what|which)( of the following)?( is)?( the)?( most)?( likely)? diagnosis$"
)
_SNIPPET = 110


@dataclass(frozen=True)
class Finding:
    scenario_id: str
    kind: FindingKind
    path: str
    snippet: str
    name: str = ""
    """The diagnosis name that was found (empty for question findings)."""

    def __str__(self) -> str:
        return f"{self.scenario_id}\t{self.kind}\t{self.path}\t{self.snippet}"


def doctor_visible_text(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Every text of the case the doctor may be shown, with its field path. Test and exam
    names are yielded as '<path>#key'."""
    case = scenario.case
    yield "case.objective", case.objective
    if case.question:
        yield "case.question", case.question
    patient = case.patient.model_dump(exclude_none=True, exclude_defaults=True)
    yield from iter_text(patient, "case.patient")
    yield from iter_text(case.exam, "case.exam", keys=True)
    yield from iter_text(case.tests, "case.tests", keys=True)
    for index, image in enumerate(case.images):
        if image.caption:
            yield f"case.images[{index}].caption", image.caption


def diagnosis_names(scenario: Scenario, extra: ExtraNames | None = None) -> list[str]:
    """Names of the correct diagnosis searched for, main text and parenthesised aliases."""
    names: list[str] = []
    for name in [scenario.answer.diagnosis, *scenario.answer.synonyms]:
        outer, inner = split_parentheses(name)
        names += [outer, *inner]
        if extra is not None:
            names += list(extra(name))
    unique: dict[tuple[str, ...], str] = {}
    for name in names:
        key = terms(name)
        if key and len("".join(key)) >= 2:
            unique.setdefault(key, name)
    return list(unique.values())


def _snippet(text: str, name: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= _SNIPPET:
        return flat
    first = words(name)[0] if words(name) else ""
    at = max(flat.lower().find(first[:5]), 0) if first else 0
    start = max(0, min(at - _SNIPPET // 3, len(flat) - _SNIPPET))
    body = flat[start : start + _SNIPPET]
    return ("…" if start else "") + body + ("…" if start + _SNIPPET < len(flat) else "")


def leak_findings(scenario: Scenario, extra: ExtraNames | None = None) -> list[Finding]:
    """Places where a name of the correct diagnosis appears in doctor-visible text."""
    needles = [(name, terms(name)) for name in diagnosis_names(scenario, extra)]
    findings: list[Finding] = []
    for path, text in doctor_visible_text(scenario):
        haystack = terms(text)
        for name, needle in needles:
            if contains_phrase(haystack, needle):
                kind: FindingKind = (
                    "diagnosis-in-field-name" if path.endswith("#key") else "diagnosis-in-case"
                )
                findings.append(Finding(scenario.id, kind, path, _snippet(text, name), name))
                break
    return findings


def asks_for_diagnosis(question: str) -> bool:
    """'What is the most likely diagnosis?' -> True; 'Which organism ...?' -> False."""
    return bool(_DIAGNOSIS_QUESTION.match(" ".join(words(question))))


def question_findings(scenario: Scenario) -> list[Finding]:
    if scenario.format != "nejm" or asks_for_diagnosis(scenario.case.objective):
        return []
    snippet = _snippet(scenario.case.objective, "")
    return [Finding(scenario.id, "question-not-diagnosis", "case.objective", snippet)]


def ehr_findings(scenario: Scenario) -> list[Finding]:
    if EHR_LEAK_TAG not in scenario.case.tags:
        return []
    note = "the diagnosis was coded at an earlier admission; EHR tools show it"
    return [Finding(scenario.id, "diagnosis-in-ehr", "ehr.diagnoses_icd", note)]


def note_findings(scenario: Scenario) -> list[Finding]:
    if NOTE_LEAK_TAG not in scenario.case.tags:
        return []
    note = "notes-derived text names the diagnosis (clinsim scenarios build-mimic says where)"
    return [Finding(scenario.id, "diagnosis-in-note", "case", note)]


def audit_scenario(scenario: Scenario, extra: ExtraNames | None = None) -> list[Finding]:
    """All findings for one scenario (leaks first, then the EHR, note and question checks)."""
    return (
        leak_findings(scenario, extra)
        + ehr_findings(scenario)
        + note_findings(scenario)
        + question_findings(scenario)
    )


def audit_report(report: LoadReport, extra: ExtraNames | None = None) -> list[Finding]:
    """All findings for the scenarios of a loaded file, in file order."""
    return [f for s in report.scenarios for f in audit_scenario(s, extra)]


def flagged(findings: Iterable[Finding], kinds: Iterable[FindingKind] | None = None) -> set[str]:
    """Ids of the scenarios with at least one finding (of the given kinds)."""
    wanted = set(kinds) if kinds is not None else None
    return {f.scenario_id for f in findings if wanted is None or f.kind in wanted}
