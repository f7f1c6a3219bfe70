"""How far the rules judge agrees with human labels, and what judging costs.

    python bench/bench_judge.py [--no-timing]

Prints, for the held-out set (never used to tune the judge), the development set and the older
tuning set in tests/agents/data (see the README there for where the pairs come from): pairs,
agreement, Cohen's kappa, false matches (judge says correct, label says wrong) and missed
matches, then the held-out agreement by kind of pair and the grade counts. Timing: building
the ICD-10-CM index from the package (cold, into an empty cache directory), loading it from the
cache, and judging one pair (mean over the three sets, after a warm-up pass).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from clinsim.agents.judges.lexicon import default_lexicon
from clinsim.agents.judges.rules import RulesJudge
from clinsim.agents.judges.terminology import load_terminology
from clinsim.judge_pairs import Pair, PairVerdict, summarise
from clinsim.scenarios.model import AnswerKey

DATA = Path(__file__).resolve().parents[1] / "tests" / "agents" / "data"
SETS = {
    "held-out": DATA / "judge_heldout.jsonl",
    "development": DATA / "judge_dev.jsonl",
    "tuning (older)": DATA / "judge_pairs.jsonl",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def judge_rows(judge: RulesJudge, rows: list[dict[str, Any]]) -> list[PairVerdict]:
    out = []
    for row in rows:
        v = judge.verdict(row["answer"], [], AnswerKey(diagnosis=row["reference"]))
        out.append(PairVerdict(v.match, v.grade, v.rank, v.reason))
    return out


def report(name: str, rows: list[dict[str, Any]], verdicts: list[PairVerdict]) -> None:
    pairs = [Pair(i, r["reference"], r["answer"], r["label"]) for i, r in enumerate(rows, 1)]
    s = summarise("rules", pairs, verdicts)
    c = s.confusion
    wrong = c["false_pos"] + c["true_neg"]
    print(
        f"{name:16} pairs {s.n:4}  agreement {s.agreement:.1%}  kappa {s.kappa:.3f}  "
        f"false matches {c['false_pos']}/{wrong} ({c['false_pos'] / s.n:.1%} of pairs)  "
        f"missed {c['false_neg']}/{c['true_pos'] + c['false_neg']}"
    )


def by_kind(rows: list[dict[str, Any]], verdicts: list[PairVerdict]) -> None:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, verdict in zip(rows, verdicts, strict=True):
        tally[row.get("kind", "?")][0] += verdict.match == row["label"]
        tally[row.get("kind", "?")][1] += 1
    print("held-out agreement by kind:")
    for kind, (agreed, n) in sorted(tally.items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:14} {agreed:3}/{n:<3} {agreed / n:.0%}")
    grades = Counter(v.grade for v in verdicts)
    print("held-out grades:", ", ".join(f"{g} {n}" for g, n in grades.most_common()))


def timing(all_rows: list[dict[str, Any]]) -> None:
    lexicon = default_lexicon()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        load_terminology(lexicon.canon, lexicon.canon_signature(), Path(cache))
        built = time.perf_counter() - start
        start = time.perf_counter()
        load_terminology(lexicon.canon, lexicon.canon_signature(), Path(cache))
        loaded = time.perf_counter() - start
    judge = RulesJudge(copy.copy(lexicon))  # another vocabulary object: empty name caches
    passes = []
    for _ in range(2):
        start = time.perf_counter()
        judge_rows(judge, all_rows)
        passes.append((time.perf_counter() - start) / len(all_rows) * 1000)
    print(
        f"ICD-10-CM index: built in {built:.1f} s (cold, empty cache), loaded from the cache "
        f"in {loaded:.2f} s; judging {passes[0]:.2f} ms per pair with empty name caches, "
        f"{passes[1]:.2f} ms with warm ones ({len(all_rows)} pairs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-timing", action="store_true", help="Skip the timing figures.")
    args = parser.parse_args()
    judge = RulesJudge()
    every: list[dict[str, Any]] = []
    for name, path in SETS.items():
        rows = load(path)
        verdicts = judge_rows(judge, rows)
        report(name, rows, verdicts)
        every += rows
        if name == "held-out":
            held = (rows, verdicts)
    by_kind(*held)
    if not args.no_timing:
        timing(every)


if __name__ == "__main__":
    main()
