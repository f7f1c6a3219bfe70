"""Judging labelled reference/answer pairs with any judges, and how well each agrees with the
labels and with the others.

A pairs file has one JSON object a line: {"reference": ..., "answer": ...} with an optional
"label": true|false (the human verdict); other keys (a source, a kind) are kept but not read.
Statistics are small pure functions over the verdict table: agreement, Cohen's kappa
(statsmodels) and the confusion matrix per judge, and the pairs where judges (and the label)
disagree.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.context import Episode
from clinsim.environments.roles import Judge, RoleFailure
from clinsim.scenarios.model import AnswerKey


@dataclass(frozen=True)
class Pair:
    line: int
    reference: str
    answer: str
    label: bool | None = None


@dataclass(frozen=True)
class PairVerdict:
    match: bool | None
    grade: str | None = None
    rank: int | None = None
    reason: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {"match": self.match, "grade": self.grade, "rank": self.rank, "reason": self.reason}


@dataclass
class JudgeSummary:
    judge: str
    n: int
    agreement: float | None
    kappa: float | None
    confusion: dict[str, int]
    errors: int = 0
    grades: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "n": self.n,
            "agreement": self.agreement,
            "kappa": self.kappa,
            "confusion": self.confusion,
            "errors": self.errors,
            "grades": self.grades,
        }


def parse_pair(text: str, line: int) -> Pair:
    """One input line; ValueError says what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    for key in ("reference", "answer"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key}: expected a non-empty string")
    label = raw.get("label")
    if label is not None and not isinstance(label, bool):
        raise ValueError("label: expected true, false or no label")
    return Pair(line, raw["reference"], raw["answer"], label)


def read_pairs(lines: Sequence[str]) -> tuple[list[Pair], list[tuple[int, str]]]:
    """Pairs, and (line, problem) for each malformed line; blank lines are skipped."""
    pairs: list[Pair] = []
    problems: list[tuple[int, str]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            pairs.append(parse_pair(text, number))
        except ValueError as exc:
            problems.append((number, str(exc)))
    return pairs, problems


async def judge_pair(judge: Judge, pair: Pair) -> PairVerdict:
    """One judge on one pair; a judge that fails gives an error, never an exception."""
    key = AnswerKey(diagnosis=pair.reference)
    try:
        with Episode(f"pairs/{pair.line:04d}").step(1):  # a model judge's calls are numbered
            verdict = await judge.judge(SubmitDiagnosis(diagnosis=pair.answer), key)
    except RoleFailure as exc:
        return PairVerdict(None, error=exc.detail)
    except Exception as exc:  # a broken third-party judge loses its pair, not the run
        return PairVerdict(None, error=f"{type(exc).__name__}: {exc}")
    return PairVerdict(verdict.match, verdict.grade, verdict.rank, verdict.reason)


async def judge_all(
    judges: dict[str, Judge], pairs: list[Pair], concurrency: int = 8
) -> dict[str, list[PairVerdict]]:
    """Every judge on every pair, `concurrency` pairs at a time per judge, in pair order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(judge: Judge, pair: Pair) -> PairVerdict:
        async with gate:
            return await judge_pair(judge, pair)

    out: dict[str, list[PairVerdict]] = {}
    for name, judge in judges.items():
        out[name] = list(await asyncio.gather(*(one(judge, p) for p in pairs)))
    return out


def summarise(judge: str, pairs: list[Pair], verdicts: list[PairVerdict]) -> JudgeSummary:
    """Agreement with the labels, Cohen's kappa and the confusion matrix, over the labelled
    pairs this judge gave a verdict on."""
    from statsmodels.stats.inter_rater import cohens_kappa

    scored = [
        (p.label, v.match)
        for p, v in zip(pairs, verdicts, strict=True)
        if p.label is not None and v.match is not None
    ]
    grades = dict(Counter(v.grade for v in verdicts if v.grade is not None))
    errors = sum(v.error is not None for v in verdicts)
    if not scored:
        empty = {"true_pos": 0, "false_pos": 0, "false_neg": 0, "true_neg": 0}
        return JudgeSummary(judge, 0, None, None, empty, errors, grades)
    cells = Counter((bool(label), bool(match)) for label, match in scored)
    tp, fp = cells[(True, True)], cells[(False, True)]
    fn, tn = cells[(True, False)], cells[(False, False)]
    kappa: float | None = None
    if (tp + fn) * (fp + tn) or (tp + fp) * (fn + tn):  # kappa needs two categories somewhere
        value = float(cohens_kappa([[tn, fp], [fn, tp]]).kappa)
        kappa = None if math.isnan(value) else round(value, 4)
    agreement = round((tp + tn) / len(scored), 4)
    confusion = {"true_pos": tp, "false_pos": fp, "false_neg": fn, "true_neg": tn}
    return JudgeSummary(judge, len(scored), agreement, kappa, confusion, errors, grades)


def disagreements(pairs: list[Pair], table: dict[str, list[PairVerdict]]) -> list[int]:
    """Indexes of the pairs where the judges' verdicts, and the label when there is one,
    are not all the same (pairs a judge failed on are left out)."""
    out = []
    for index, pair in enumerate(pairs):
        seen = {table[name][index].match for name in table}
        if None in seen:
            continue
        if pair.label is not None:
            seen.add(pair.label)
        if len(seen) > 1:
            out.append(index)
    return out
