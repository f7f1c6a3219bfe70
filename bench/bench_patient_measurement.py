"""Figures for the offline patient and measurement over the bundled scenario sets.

Prints, per set: scenarios, measurement keys and how many a plain-words request finds, a
fixed panel of common orders and how often each is answered, lookups per second, fact-patient
answers per second and the share of "I'm not sure" answers to a fixed question list.

    .venv/bin/python bench/bench_patient_measurement.py
"""

from __future__ import annotations

import time

from clinsim.agents.patients.facts import UNKNOWN, FactPatient
from clinsim.environments.measurement import EXAM_ROOT, LookupMeasurement
from clinsim.scenarios.sets import bundled_sets, load_report

ORDERS = ["CBC", "BMP", "LFTs", "urinalysis", "ECG", "chest x-ray", "CT", "MRI", "vital signs"]
QUESTIONS = [
    "What brings you in today?",
    "How old are you?",
    "When did this start?",
    "Do you smoke?",
    "Do you drink alcohol?",
    "Are you taking any medications?",
    "Do you have any allergies?",
    "Does anyone in your family have medical problems?",
    "Any past medical history?",
    "Any other symptoms?",
]


def measure(set_name: str) -> None:
    scenarios = load_report(set_name).scenarios
    keys = found = lookups = 0
    answered = dict.fromkeys(ORDERS, 0)
    start = time.perf_counter()
    for scenario in scenarios:
        measurement = LookupMeasurement(scenario.case)
        for entry in measurement.entries:
            if entry.path == (EXAM_ROOT,):
                continue
            keys += 1
            lookups += 1
            request = " ".join(p.replace("_", " ") for p in entry.path if p != EXAM_ROOT)
            found += any(entry.path[: len(f.path)] == f.path for f in measurement.find(request))
        for order in ORDERS:
            lookups += 1
            answered[order] += measurement.lookup(order).available
    lookup_rate = lookups / (time.perf_counter() - start)

    unknown = answers = 0
    start = time.perf_counter()
    for scenario in scenarios:
        patient = FactPatient(scenario.case.patient, [scenario.answer.diagnosis])
        for question in QUESTIONS:
            answers += 1
            unknown += patient.reply(question).answer == UNKNOWN
    answer_rate = answers / (time.perf_counter() - start)

    n = len(scenarios)
    print(f"## {set_name}: {n} scenarios")
    print(f"  keys found by their path in plain words: {found}/{keys}")
    print("  orders answered: " + ", ".join(f"{o} {answered[o]}/{n}" for o in ORDERS))
    print(f"  lookups/s: {lookup_rate:,.0f}   patient answers/s (incl. set-up): {answer_rate:,.0f}")
    print(f"  'I'm not sure' answers: {unknown}/{answers} ({unknown / answers:.0%})")


if __name__ == "__main__":
    for scenario_set in bundled_sets():
        measure(scenario_set.name)
