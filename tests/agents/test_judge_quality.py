"""Quality gate on fixed data: the rules judge's agreement with the labelled pairs in
tests/agents/data (sources in the README there). The three held-out sets were never used to
tune the judge; these floors are the measured figures (docs/benchmarks.md), so a change that
loses agreement or adds false matches fails here. The target, 90% agreement with at most 1%
false matches on pairs the judge was not tuned on, is met on the first held-out set; on the
second and third the false-match target is met and the agreement target is not (measured 74.6%
and 68.2%)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judging import judge_pair

DATA = Path(__file__).parent / "data"


def _figures(name: str) -> tuple[int, float, float]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    verdicts = [judge_pair(r["reference"], r["answer"]).match for r in rows]
    agreed = sum(v == r["label"] for v, r in zip(verdicts, rows, strict=True))
    false_matches = sum(v and not r["label"] for v, r in zip(verdicts, rows, strict=True))
    return len(rows), agreed / len(rows), false_matches / len(rows)


@pytest.mark.parametrize(
    ("name", "size", "agreement", "false_matches"),
    [
        ("judge_heldout3.jsonl", 277, 0.68, 0.0),
        ("judge_heldout2.jsonl", 335, 0.745, 0.01),
        ("judge_heldout.jsonl", 363, 0.909, 0.0),
        ("judge_dev.jsonl", 368, 0.885, 0.0),
        ("judge_pairs.jsonl", 109, 0.98, 0.0),
    ],
)
def test_agreement_and_false_matches_hold(
    name: str, size: int, agreement: float, false_matches: float
) -> None:
    n, agreed, false = _figures(name)
    assert n == size
    assert agreed >= agreement
    assert false <= false_matches


@pytest.mark.parametrize(
    "name", ["judge_heldout.jsonl", "judge_heldout2.jsonl", "judge_heldout3.jsonl"]
)
def test_the_sets_name_their_sources_and_half_of_each_held_out_set_is_hard_negatives(
    name: str,
) -> None:
    held_out = [json.loads(line) for line in (DATA / name).read_text().splitlines()]
    assert sum(not r["label"] for r in held_out) * 2 >= len(held_out) >= 200
    for labelled in (name, "judge_dev.jsonl"):
        rows = [json.loads(line) for line in (DATA / labelled).read_text().splitlines()]
        assert all(r["reference_source"] and r["answer_source"] and r["kind"] for r in rows)
