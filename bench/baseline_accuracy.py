"""Accuracy of the baseline doctor on each bundled scenario set, judged by the rules judge.

    python bench/baseline_accuracy.py [SET ...] [--max-turns 20]

Runs `clinsim run SET --doctor baseline` (offline agents: fact patient, lookup measurement,
rules judge) and prints, per set: top-1 accuracy, top-5 (the diagnosis or one of the four
differential entries matches) and the knowledge ceiling, the share of scenarios whose correct
diagnosis is among the knowledge file's diagnoses at all (rules-judge match).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from clinsim.agents.doctors.knowledge import default_ranker
from clinsim.agents.judges.rules import RulesJudge
from clinsim.environments.events import DiagnosisJudged
from clinsim.environments.run_store import RunStore
from clinsim.scenarios.sets import bundled_sets, load_report

CLINSIM = str(Path(sys.executable).with_name("clinsim"))


def ceiling(set_name: str, judge: RulesJudge) -> tuple[int, int]:
    """Scenarios whose correct diagnosis matches a diagnosis with a case not hidden for them."""
    ranker = default_ranker()
    scenarios = load_report(set_name).scenarios
    covered = 0
    for s in scenarios:
        names = ranker.visible_names(ranker.hidden(s.id, s.case.objective))
        covered += any(judge.verdict(n, [], s.answer).match for n in names)
    return covered, len(scenarios)


def run_set(set_name: str, max_turns: int) -> list[dict[str, Any]]:
    """Stored verdicts of the rules judge, one per episode."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [CLINSIM, "run", set_name, "--doctor", "baseline"]
        command += ["--max-turns", str(max_turns), "--out", str(out)]
        subprocess.run(command, check=True, capture_output=True, text=True)
        store = RunStore(out)
        verdicts = [
            next(e for e in store.events(r.episode_id) if isinstance(e, DiagnosisJudged))
            for r in sorted(store.episodes(), key=lambda r: r.episode_id)
        ]
    return [v.model_dump() for v in verdicts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=[s.name for s in bundled_sets()])
    parser.add_argument("--max-turns", type=int, default=20)
    args = parser.parse_args()
    judge = RulesJudge()
    print(f"{'set':24} {'n':>4} {'top-1':>12} {'top-5':>12} {'ceiling':>12}")
    for name in args.sets:
        episodes = run_set(name, args.max_turns)
        n = len(episodes)
        top1 = sum(bool(e["match"]) for e in episodes)
        top5 = sum(e["rank"] is not None and e["rank"] <= 5 for e in episodes)
        covered, total = ceiling(name, judge)
        print(
            f"{name:24} {n:>4} {top1:>4} ({top1 / n:5.1%}) {top5:>4} ({top5 / n:5.1%})"
            f" {covered:>4} ({covered / total:5.1%})"
        )


if __name__ == "__main__":
    main()
