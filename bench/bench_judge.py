"""How far the rules judge agrees with human labels, and what judging costs.

    python bench/bench_judge.py [--no-timing]

Prints, for the three held-out sets (never used to tune the judge), the development set and the
older tuning set in tests/agents/data (see the README there for where the pairs come from):
pairs, agreement, Cohen's kappa, false matches (judge says correct, label says wrong) and
missed matches, then each held-out set's agreement by kind of pair and its grade counts, and
what the ICD-10-CM index holds that the grading rules treat specially (titles that list several
conditions, names that are one code's title and another code's inclusion term, names with a
'without'). Timing: building the index from the package (cold, into an empty cache directory),
loading it from the cache, and judging one pair (mean over all sets, after a warm-up pass).
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
from clinsim.agents.judges.terminology import NEGATED, Terminology, load_terminology
from clinsim.judge_pairs import Pair, PairVerdict, summarise
from clinsim.scenarios.model import AnswerKey

DATA = Path(__file__).resolve().parents[1] / "tests" / "agents" / "data"
SETS = {
    "held-out 3": DATA / "judge_heldout3.jsonl",
    "held-out 2": DATA / "judge_heldout2.jsonl",
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


def by_kind(name: str, rows: list[dict[str, Any]], verdicts: list[PairVerdict]) -> None:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, verdict in zip(rows, verdicts, strict=True):
        tally[row.get("kind", "?")][0] += verdict.match == row["label"]
        tally[row.get("kind", "?")][1] += 1
    print(f"{name} agreement by kind:")
    for kind, (agreed, n) in sorted(tally.items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:14} {agreed:3}/{n:<3} {agreed / n:.0%}")
    grades = Counter(v.grade for v in verdicts)
    print(f"{name} grades:", ", ".join(f"{g} {n}" for g, n in grades.most_common()))


def index_counts(terminology: Terminology) -> None:
    """What the grading rules treat specially, counted over the whole index."""
    listing_codes, members, named, scoped = set(), 0, 0, 0
    for key, entries in terminology.index.items():
        scoped += NEGATED in key
        for code, kind, _ in entries:
            if kind == "member":
                listing_codes.add(code)
                members += 1
        titles = [
            c for c, kind, _ in entries if kind == "title" and not terminology.is_catch_all_title(c)
        ]
        named += any(
            kind != "title" and not any(t == c or _lineage(terminology, t, c) for t in titles)
            for c, kind, _ in entries
            if titles
        )
    print(
        f"ICD-10-CM index: {len(terminology.index)} names of {len(terminology.inclusions)} codes; "
        f"{len(listing_codes)} codes list several conditions ({members} member names); "
        f"{named} names are one code's title and another code's inclusion term, member or NOS "
        f"term; {scoped} names carry what a 'without' negates"
    )


def _lineage(terminology: Terminology, a: str, b: str) -> bool:
    return terminology.is_ancestor(a, b) or terminology.is_ancestor(b, a)


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
    held: list[tuple[str, list[dict[str, Any]], list[PairVerdict]]] = []
    for name, path in SETS.items():
        rows = load(path)
        verdicts = judge_rows(judge, rows)
        report(name, rows, verdicts)
        every += rows
        if name.startswith("held-out"):
            held.append((name, rows, verdicts))
    for name, rows, verdicts in held:
        by_kind(name, rows, verdicts)
    index_counts(judge.grader.terminology)
    if not args.no_timing:
        timing(every)


if __name__ == "__main__":
    main()
