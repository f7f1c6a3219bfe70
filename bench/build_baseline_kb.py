"""Rebuild the baseline doctor's knowledge file: MedQA diagnosis questions + bundled scenarios.

    python bench/build_baseline_kb.py [--medqa PATH] [--out agents/data/baseline_kb.json]

`--medqa` defaults to ../shared/datasets/medqa/medqa_us_4options_test.jsonl next to the
repository (MedQA's US 4-option test split, MIT licence).

1. MedQA: keeps each US test question that asks for the most likely diagnosis, as (correct
   option's text, case text without the final question), and leaves out every question that is
   the source of a bundled scenario (AgentClinic's MedQA sets were generated from MedQA
   questions): a question is a source when its case text is similar to the scenario's case
   text: TF-IDF cosine >= 0.20, or >= 0.10 with the same age ('35-year-old'). Unrelated pairs
   score 0.03-0.12; sources 0.14-0.82. Answers are never compared.
2. Scenarios: one case per group of bundled scenarios that are one case (answers are never
   compared): the same images, if any, and
   - near-identical case texts (TF-IDF cosine >= 0.98: agentclinic-medqa is contained in
     agentclinic-medqa-ext; unrelated cases score at most 0.95), or, for cases without an EHR
     link (whose texts are not dominated by lab names),
   - paraphrases: cosine >= 0.40, or >= 0.25 with the same age and sex in the demographics
     (AgentClinic-MedQA-Ext renders some MedQA questions twice, e.g. records 0111 and 0209;
     paraphrase pairs score 0.27-0.62, distinct text-only cases at most 0.35).
   The case's text is the content words of its objective, patient facts, examination and tests.
   It is hidden from every id of its group and, for EHR-linked scenarios, from every admission
   of the same patient; see `clinsim.agents.doctors.knowledge` for the fingerprints.
The output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clinsim.agents.doctors.knowledge import (
    TfidfIndex,
    content_words,
    fingerprint,
    record_key,
    tokens,
    words,
)
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import get_set, load_report
from clinsim.scenarios.text import iter_text

ROOT = Path(__file__).resolve().parents[1]
MEDQA = ROOT.parent / "shared" / "datasets" / "medqa" / "medqa_us_4options_test.jsonl"
OUT = ROOT / "agents" / "data" / "baseline_kb.json"
SETS = (
    "demo",
    "agentclinic-medqa",
    "agentclinic-medqa-ext",
    "mimic-iv-demo",
    "mimic-iv-demo-notes",
    "images",
)
"""The scenario sets the knowledge is built from, in the order the file lists them (the order
decides which scenario of a group is its source, so it is part of the file's definition)."""
ASKS = re.compile(r"most likely diagnosis|most consistent with which diagnosis", re.I)
NOT_ASKING = re.compile(
    r"confirm|treatment|associated|characteristic|risk|medication|step|support|finding|test",
    re.I,
)
AGE = re.compile(r"(\d+) (year|month|week|day)s? old")
STRONG, WEAK = 0.20, 0.10
DUPLICATE, PARAPHRASE, SAME_PERSON = 0.98, 0.40, 0.25
FEMALE = frozenset({"female", "woman", "girl"})
MALE = frozenset({"male", "man", "boy"})


def split_question(text: str) -> tuple[str, str]:
    """(case text, final question) of a MedQA item."""
    parts = re.split(r"(?<=[.?!:\n])\s+", text.strip())
    return " ".join(parts[:-1]).strip(), parts[-1].strip()


def age(text: str) -> tuple[str, str] | None:
    """('35', 'year') for '... a 35-year-old woman ...'; None when no age is given."""
    found = AGE.search(" ".join(words(text)))
    return (found.group(1), found.group(2)) if found else None


def scenario_text(scenario: Scenario) -> str:
    case = scenario.case
    parts = [case.objective, case.question or ""]
    patient = case.patient.model_dump(exclude_none=True)
    for value in (patient, case.exam, case.tests):
        parts += [t for _, t in iter_text(value, "", keys=True)]  # type: ignore[arg-type]
    return " ".join(parts)


def diagnosis_questions(path: Path) -> list[dict[str, Any]]:
    out = []
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        item = json.loads(raw)
        case, question = split_question(item["question"])
        if ASKS.search(question) and not NOT_ASKING.search(question):
            out.append({"line": line, "diagnosis": item["answer"].strip(), "text": case})
    return out


def scenario_sources(
    questions: list[dict[str, Any]], texts: list[str], ids: list[str]
) -> dict[int, str]:
    """Questions that are the source of a bundled scenario: index -> why."""
    index = TfidfIndex([str(q["text"]) for q in questions] + texts)
    excluded: dict[int, str] = {}
    for qi, question in enumerate(questions):
        sims = index.similarities(str(question["text"]))[len(questions) :]
        demo = age(str(question["text"]))
        for si in np.argsort(-sims, kind="stable")[:5]:
            score = float(sims[si])
            if score >= STRONG or (score >= WEAK and demo and demo == age(texts[si])):
                excluded[qi] = f"{ids[si]} (cosine {score:.2f})"
                break
    return excluded


def images(scenario: Scenario) -> tuple[str, ...]:
    """What identifies a scenario's images: file names, else URLs, else ids."""
    return tuple(sorted(Path(i.path or i.url or i.id).name for i in scenario.case.images))


def person(scenario: Scenario) -> tuple[str, str] | None:
    """(age, sex) from the demographics: ('35 year', 'F'); None when either is missing."""
    text = str(scenario.case.patient.demographics or "")
    found, said = age(text), set(words(text))
    sex = "F" if said & FEMALE else "M" if said & MALE else None
    return (" ".join(found), sex) if found and sex else None


@dataclass(frozen=True)
class Identity:
    """What `same_case` compares besides the text."""

    images: tuple[str, ...]
    person: tuple[str, str] | None
    ehr: bool

    @classmethod
    def of(cls, scenario: Scenario) -> Identity:
        return cls(images(scenario), person(scenario), scenario.case.ehr is not None)


def same_case(a: Identity, b: Identity, cosine: float) -> bool:
    """Two scenarios are one case (see the module docstring for the thresholds)."""
    if a.images != b.images:
        return False
    if cosine >= DUPLICATE:
        return True
    if a.ehr or b.ehr:
        return False
    return cosine >= PARAPHRASE or (
        a.person is not None and a.person == b.person and cosine >= SAME_PERSON
    )


def duplicate_groups(texts: list[str], identities: list[Identity]) -> list[list[int]]:
    """Groups of scenarios that are one case (union-find over `same_case`), in order."""
    index = TfidfIndex(texts)
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, text in enumerate(texts):
        sims = index.similarities(text)
        for j in np.flatnonzero(sims >= SAME_PERSON):
            if not same_case(identities[i], identities[int(j)], float(sims[j])):
                continue
            a, b = root(i), root(int(j))
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def scenario_cases(scenarios: list[Scenario], texts: list[str]) -> list[dict[str, Any]]:
    groups = duplicate_groups(texts, [Identity.of(s) for s in scenarios])
    group_of = {i: g for g in groups for i in g}
    patients: dict[int, list[int]] = {}
    for i, s in enumerate(scenarios):
        if s.case.ehr is not None:
            patients.setdefault(s.case.ehr.subject_id, []).append(i)
    objective_groups: Counter[str] = Counter()
    for group in groups:
        objective_groups.update({" ".join(words(scenarios[i].case.objective)) for i in group})
    cases = []
    for group in groups:
        first = scenarios[group[0]]
        hide = set(group)
        for i in group:
            ehr = scenarios[i].case.ehr
            for j in patients.get(ehr.subject_id, []) if ehr else []:
                hide.update(group_of[j])
        prints = set()
        for i in hide:
            objective = scenarios[i].case.objective
            shared = objective_groups[" ".join(words(objective))] > 1
            prints.add(fingerprint(objective, record_key(scenarios[i].id) if shared else None))
        text = " ".join(content_words(texts[group[0]]))
        assert tokens(text) == tokens(texts[group[0]]), first.id
        cases.append(
            {
                "diagnosis": first.answer.diagnosis,
                "source": first.id,
                "hidden_from": sorted(scenarios[i].id for i in hide),
                "fingerprints": sorted(prints),
                "text": text,
            }
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medqa", type=Path, default=MEDQA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sets", nargs="+", default=list(SETS), help="Scenario sets, in order.")
    args = parser.parse_args()
    if not args.medqa.is_file():
        parser.error(f"--medqa {args.medqa}: no such file (MedQA's US 4-option test split)")
    questions = diagnosis_questions(args.medqa)
    sets = [get_set(name) for name in args.sets]
    scenarios = [s for ss in sets for s in load_report(ss.name).scenarios]
    texts = [scenario_text(s) for s in scenarios]
    excluded = scenario_sources(questions, texts, [s.id for s in scenarios])
    kept = [q for i, q in enumerate(questions) if i not in excluded]
    from_scenarios = scenario_cases(scenarios, texts)
    data = {
        "about": "Solved cases of the baseline doctor: diagnosis, case text, the scenario ids"
        " each case is hidden from. See baseline_kb.md.",
        "sources": [
            "MedQA (Jin et al. 2021), questions/US/4_options test split; MIT licence",
            *(f"scenario set {s.name}: {s.license}; {s.attribution}" for s in sets),
        ],
        "diagnosis_questions": len(questions),
        "excluded_as_scenario_sources": len(excluded),
        "scenarios": len(scenarios),
        "scenario_cases": len(from_scenarios),
        "cases": [
            {"diagnosis": q["diagnosis"], "source": f"medqa-us-test:{q['line']}", "text": q["text"]}
            for q in kept
        ]
        + from_scenarios,
    }
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(questions)} diagnosis questions, {len(excluded)} excluded, {len(kept)} kept")
    print(f"{len(scenarios)} scenarios in {len(from_scenarios)} cases (duplicate groups)")
    for case in from_scenarios:
        ids = case["hidden_from"]
        if len(ids) > 1 and not case["source"].startswith("mimic"):
            print(f"  {case['source']} hidden from {', '.join(ids)}")


if __name__ == "__main__":
    main()
