"""Deterministic checks of what the patient said, for any patient (facts, LLM, human).

After each answer (`clinsim.environments.faults.FaultMonitor`):
- `unknown_despite_fact`: the reply says it does not know ("I'm not sure", "I don't know")
  while the fact retrieval (`select_units`, topic-aware) finds a fact that answers the question;
- `off_topic_answer`: the question is bound to a topic (family, smoking, medications, ...) and
  the answer uses only facts of other topics: the fact paths the patient reports, or, for a
  patient that reports none (an LLM), the facts the reply's words match best;
- `third_person`: the reply speaks of the patient as someone else ("The patient reports ...",
  "I ... and does not ...");
- `leak_regenerated`: a reply was withheld for naming the diagnosis (`PatientLeakBlocked`, from
  the LLM patient's leak guard) before the one the doctor got.

The checks read the case's facts, never the answer key. They are told which fact paths the
patient may not say (`withheld`: the facts that name the diagnosis, see `withheld_paths`), so
that "I'm not sure" in place of such a fact is not a fault; they are not told why. Whether an
answer contradicts a fact, invents one, or is medically implausible needs a model to judge and
is not checked here (docs/simulator-faults.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clinsim.agents.patients.facts import FactUnit, bm25_scores, fact_units, select_units, terms_of
from clinsim.agents.patients.person import patient_gender, third_person_leftovers
from clinsim.agents.patients.topics import belongs, question_topics
from clinsim.environments.events import FaultKind, PatientLeakBlocked, SimulatorFault
from clinsim.environments.faults import MeasurementCheck
from clinsim.environments.roles import MeasurementTurn, PatientTurn
from clinsim.scenarios.model import Case, PatientFacts

_NOT_KNOWN = re.compile(
    r"\b(?:not sure|don'?t know|do not know|no idea|can'?t (?:recall|remember|say)|"
    r"cannot (?:recall|remember|say)|don'?t remember|do not remember|unsure|not certain)\b",
    re.IGNORECASE,
)
MAX_UNKNOWN_WORDS = 10
MIN_MATCH = 2.0
"""BM25 score (and at least two shared words) for a reply to count as saying a fact."""


def says_unknown(reply: str) -> bool:
    """A short reply whose point is that the patient does not know (no "..., but ...")."""
    short = len(reply.split()) <= MAX_UNKNOWN_WORDS and not re.search(r"\bbut\b", reply, re.I)
    return short and bool(_NOT_KNOWN.search(reply))


def _excerpt(unit: FactUnit) -> str:
    text = unit.text if len(unit.text) <= 100 else unit.text[:97] + "..."
    return f"{unit.path}: {text}"


def withheld_paths(facts: PatientFacts, forbidden: Sequence[str]) -> frozenset[str]:
    """The fact paths a patient may not say: those whose text names a forbidden name."""
    kept = {unit.path for unit in fact_units(facts, forbidden)}
    return frozenset(unit.path for unit in fact_units(facts) if unit.path not in kept)


class PatientCheck:
    def __init__(self, case: Case, withheld: frozenset[str] = frozenset()):
        self.units = [unit for unit in fact_units(case.patient) if unit.path not in withheld]
        self.by_path = {unit.path: unit for unit in self.units}
        self.gender = patient_gender(case.patient.demographics)

    def _fault(self, fault: FaultKind, evidence: str) -> SimulatorFault:
        return SimulatorFault(fault=fault, role="patient", evidence=evidence)

    def check(self, question: str, reply: PatientTurn) -> list[SimulatorFault]:
        faults: list[SimulatorFault] = []
        blocked = sum(isinstance(e, PatientLeakBlocked) for e in reply.events)
        if blocked:
            evidence = f"{blocked} repl{'y' if blocked == 1 else 'ies'} withheld for naming it"
            faults.append(self._fault("leak_regenerated", evidence))
        if says_unknown(reply.answer):
            found = select_units(question, self.units)
            if found:
                faults.append(self._fault("unknown_despite_fact", _excerpt(found[0])))
            return faults
        faults += self._off_topic(question, reply)
        left = third_person_leftovers(reply.answer, self.gender)
        if left:
            faults.append(self._fault("third_person", f"{', '.join(left)} in {reply.answer!r}"))
        return faults

    def _said(self, reply: PatientTurn) -> list[FactUnit]:
        if reply.facts:
            return [self.by_path[p] for p in reply.facts if p in self.by_path]
        words = terms_of(reply.answer)
        scores = bm25_scores(words, self.units)
        said = []
        for unit, score in zip(self.units, scores, strict=True):
            if score >= MIN_MATCH and len(set(words) & set(unit.terms)) >= 2:
                said.append(unit)
        return said

    def _off_topic(self, question: str, reply: PatientTurn) -> list[SimulatorFault]:
        bound = question_topics(question)
        said = self._said(reply)
        if not bound or not said:
            return []
        if any(belongs(unit, topic) for unit in said for topic in bound):
            return []
        topics = "/".join(topic.name for topic in bound)
        return [self._fault("off_topic_answer", f"asked about {topics}; {_excerpt(said[0])}")]


class SimulatorMonitor:
    """The patient and measurement checks of one episode (implements `FaultMonitor`)."""

    def __init__(self, case: Case, withheld: frozenset[str] = frozenset()):
        self.patient = PatientCheck(case, withheld)
        self.measurement = MeasurementCheck(case)

    def after_answer(self, question: str, reply: PatientTurn) -> list[SimulatorFault]:
        return self.patient.check(question, reply)

    def after_report(self, test: str, report: MeasurementTurn) -> list[SimulatorFault]:
        return self.measurement.check(test, report)
