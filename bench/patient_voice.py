"""The fact patient's voice: how many facts of the bundled sets, as the patient says them,
still speak of the patient in the third person (`third_person_leftovers`).

    python bench/patient_voice.py [--show N]
"""

from __future__ import annotations

import argparse
import random

from clinsim.agents.patients.facts import FactPatient, spoken
from clinsim.agents.patients.person import third_person_leftovers
from clinsim.scenarios.sets import bundled_sets, load_scenarios

SETS = tuple(s.name for s in bundled_sets())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--show", type=int, default=0, help="print N random leftovers")
    args = parser.parse_args()
    flagged: list[tuple[str, str, list[str]]] = []
    for name in SETS:
        units = total = 0
        for scenario in load_scenarios([name]):
            patient = FactPatient(scenario.case.patient)
            for unit in patient.units:
                said = spoken(unit, patient.gender)
                left = third_person_leftovers(said, patient.gender, unit.field)
                units += 1
                if left:
                    total += 1
                    flagged.append((scenario.id, said, left))
        print(f"{name}: {total} of {units} facts with third-person leftovers")
    for scenario_id, said, left in random.Random(0).sample(flagged, min(args.show, len(flagged))):
        print(f"  {scenario_id}: {said!r} {left}")


if __name__ == "__main__":
    main()
