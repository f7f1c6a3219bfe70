"""Simulator faults: checks that run after every patient answer and test report, and the
per-run figures computed from the `SimulatorFault` events they record.

A `FaultMonitor` sees the question or order, the role's reply and the case (never the answer
key); what it returns goes into the event log after the reply, never to the doctor. The patient
checks live with the fact retrieval (`clinsim.agents.patients.faults`); the measurement check
is here: an order reported as not available (or "NORMAL READINGS") is a `test_missed` fault
when a looser matcher than the lookup's finds it among the case's test and examination keys
under another name.

An episode is *spoiled by the simulator* when its diagnosis was judged wrong (or none was
given) and at least one simulator fault was recorded in it; a wrong episode without a fault is
the doctor's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from clinsim.environments.events import Event, SimulatorFault
from clinsim.environments.measurement import Entry, LookupMeasurement
from clinsim.environments.roles import MeasurementTurn, PatientTurn
from clinsim.environments.test_names import (
    SPECIMEN_WORDS,
    TEST_WORDS,
    canonical_tokens,
)
from clinsim.scenarios.model import Case

_MODALITIES = frozenset(
    [
        "ct",
        "xray",
        "mri",
        "ultrasound",
        "echo",
        "ecg",
        "eeg",
        "emg",
        "angiogram",
        "angiography",
        "pet",
        "scan",
        "endoscopy",
        "egd",
        "colonoscopy",
        "biopsy",
        "culture",
        "doppler",
        "mammogram",
        "dexa",
    ]
)
# Words that say little about which test is meant: sharing only these is no match.
_GENERIC = frozenset(
    [
        "level",
        "levels",
        "serum",
        "plasma",
        "blood",
        "panel",
        "study",
        "studies",
        "studie",
        "count",
        "total",
        "test",
        "exam",
        "examination",
        "finding",
        "findings",
        "result",
        "results",
        "screen",
        "screening",
        "profile",
        "analysis",
        "of",
        "and",
        "with",
        "affected",
        "area",
        "region",
        "site",
    ]
)


_PARTS = re.compile(r"\s*(?:,|\band\b|&|\+|/)\s*", re.IGNORECASE)


class FaultMonitor(Protocol):
    def after_answer(self, question: str, reply: PatientTurn) -> list[SimulatorFault]: ...

    def after_report(self, test: str, report: MeasurementTurn) -> list[SimulatorFault]: ...


def _modalities(words: set[str]) -> set[str]:
    return words & _MODALITIES


def _loose(request: tuple[str, ...], entry: Entry) -> bool:
    """The order and one of the entry's names say the same test, one more specifically than
    the other ("ferritin" and "serum ferritin level"), apart from words that say little; not
    across tests, imaging modalities (a chest CT is not the chest x-ray) or specimens, and a
    less specific key only where its own text names what the order adds ("skin biopsy" is
    not the breast `Biopsy`)."""
    asked = set(request) - _GENERIC
    if not asked:
        return False
    for name in (*entry.names, entry.plain):
        held = set(name) - _GENERIC
        if not held or (SPECIMEN_WORDS | TEST_WORDS) & (asked ^ held):
            continue
        if _modalities(asked) != _modalities(held) and _modalities(asked):
            continue
        if asked <= held or (held <= asked and _says(entry, asked - held)):
            return True
    return False


def _says(entry: Entry, words: set[str]) -> bool:
    text = set(canonical_tokens(" ".join(entry.path) + " " + str(entry.value)))
    return words <= text


def order_parts(test: str) -> list[str]:
    """The tests one order names ("ESR and CRP" -> "ESR", "CRP")."""
    parts = [part.strip() for part in _PARTS.split(test) if part.strip()]
    return parts if len(parts) > 1 else [test]


class MeasurementCheck:
    """`test_missed`: an order reported as not available that the case holds."""

    def __init__(self, case: Case):
        self.lookup = LookupMeasurement(case)

    def held_as(self, test: str) -> Entry | None:
        """The case's entry that a looser matcher finds for `test` (or for one of the tests
        it names), if any."""
        for part in order_parts(test):
            found = self.lookup.find(part)
            if found:
                return found[0]
            request = canonical_tokens(part)
            loose = [entry for entry in self.lookup.entries if _loose(request, entry)]
            if loose:
                return min(loose, key=lambda entry: (entry.depth, entry.order))
        return None

    def check(self, test: str, report: MeasurementTurn) -> list[SimulatorFault]:
        if report.available:
            return []
        entry = self.held_as(test)
        if entry is None:
            return []
        evidence = f"{test!r} reported as {report.result!r}; the case holds {entry.label!r}"
        return [SimulatorFault(fault="test_missed", role="measurement", evidence=evidence)]


# ------------------------------------------------------------------ figures from events


@dataclass
class FaultSummary:
    """One episode's simulator faults, from its events."""

    faults: Counter[str] = field(default_factory=Counter)
    answers: int = 0
    reports: int = 0

    @property
    def total(self) -> int:
        return sum(self.faults.values())


def summarise_faults(events: Iterable[Event]) -> FaultSummary:
    summary = FaultSummary()
    for event in events:
        if isinstance(event, SimulatorFault):
            summary.faults[event.fault] += 1
        elif event.kind == "patient_answered":
            summary.answers += 1
        elif event.kind == "test_reported":
            summary.reports += 1
    return summary


def spoiled(correct: bool, summary: FaultSummary) -> bool:
    """A wrong episode in which the simulator faulted at least once."""
    return not correct and summary.total > 0


PATIENT_FAULTS = ("unknown_despite_fact", "off_topic_answer", "third_person", "leak_regenerated")
MEASUREMENT_FAULTS = ("test_missed",)
