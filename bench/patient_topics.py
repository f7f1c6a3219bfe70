"""Topic routing of the fact patient: does each question get an answer from the right part of
the patient's facts, or "not sure" when nothing there answers it?

Each line of a question file names a bundled scenario, a question and the fact fields an answer
may come from (`unknown`: the patient should say it is not sure). An answer counts as right when
it is "not sure" and `unknown` is allowed, or when every fact it used lies in an allowed field.

    python bench/patient_topics.py bench/data/patient_topics_heldout.jsonl [--show-wrong]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clinsim.agents.patients.facts import FactPatient
from clinsim.scenarios.sets import find_scenario


def field_of(path: str) -> str:
    for mark in (".", "[", "#"):
        path = path.split(mark, 1)[0]
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show-wrong", action="store_true")
    args = parser.parse_args()
    for file in args.files:
        items = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        right = 0
        for item in items:
            scenario = find_scenario(item["scenario"])
            answer = scenario.answer
            patient = FactPatient(scenario.case.patient, [answer.diagnosis, *answer.synonyms])
            turn = patient.reply(item["question"])
            allowed = set(item["expect"])
            fields = {field_of(path) for path in turn.facts}
            ok = ("unknown" in allowed) if not fields else fields <= allowed
            right += ok
            if not ok and args.show_wrong:
                print(f"  WRONG {item['scenario']} {item['question']!r} -> {sorted(fields)}")
                print(f"        {turn.answer[:200]}")
        print(f"{file.name}: {right}/{len(items)} right ({right / len(items):.0%})")


if __name__ == "__main__":
    main()
