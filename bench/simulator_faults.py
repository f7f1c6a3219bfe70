"""Simulator-fault checks over stored runs, for measuring how often they are wrong.

    python bench/simulator_faults.py RUN_DIR [RUN_DIR ...] [--show]

Re-applies the current checks (`SimulatorMonitor`) to every patient answer and test report of
the stored episodes (questions, answers with their fact paths, withheld replies, reports) and
prints the count per fault kind; `--show` prints every flagged turn with its question or order,
the reply and the evidence, for reading by hand.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from clinsim.agents.patients.faults import SimulatorMonitor
from clinsim.environments.events import Event, PatientLeakBlocked
from clinsim.environments.roles import MeasurementTurn, PatientTurn
from clinsim.runner import _withheld
from clinsim.scenarios.sets import find_scenario
from clinsim.store import RunStore


def recheck(events: list[Event], monitor: SimulatorMonitor) -> list[tuple[str, str, str]]:
    """(fault, asked, evidence) for each fault the checks find in one episode's events."""
    found: list[tuple[str, str, str]] = []
    asked, blocked = "", []
    for event in events:
        if event.kind in ("question_asked", "test_ordered"):
            asked = event.question if event.kind == "question_asked" else event.test
            blocked = []
        elif isinstance(event, PatientLeakBlocked):
            blocked.append(event)
        elif event.kind == "patient_answered":
            turn = PatientTurn(answer=event.answer, facts=event.facts, events=list(blocked))
            faults = monitor.after_answer(asked, turn)
            found += [(f.fault, f"{asked!r} -> {event.answer[:120]!r}", f.evidence) for f in faults]
        elif event.kind == "test_reported":
            report = MeasurementTurn(event.matched, event.available, event.result)
            faults = monitor.after_report(asked, report)
            found += [(f.fault, f"order {asked!r}", f.evidence) for f in faults]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    for run in args.runs:
        store = RunStore(run)
        counts: Counter[str] = Counter()
        answers = reports = 0
        for record in store.episodes():
            scenario = find_scenario(record.scenario_id)
            monitor = SimulatorMonitor(scenario.case, _withheld(scenario))
            events = store.events(record.episode_id)
            answers += sum(e.kind == "patient_answered" for e in events)
            reports += sum(e.kind == "test_reported" for e in events)
            for fault, asked, evidence in recheck(events, monitor):
                counts[fault] += 1
                if args.show:
                    print(f"{record.episode_id} {fault}: {asked}\n    {evidence}")
        print(f"{run}: {answers} patient answers, {reports} test reports; faults {dict(counts)}")


if __name__ == "__main__":
    main()
