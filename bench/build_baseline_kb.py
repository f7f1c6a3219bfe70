"""Rebuild the baseline doctor's knowledge file from the MedQA US test questions.

    python bench/build_baseline_kb.py [--medqa PATH] [--out agents/data/baseline_kb.json]

Keeps each question that asks for the most likely diagnosis, as (correct option's text, case
text without the final question). Leaves out every question that is the source of a bundled
scenario (AgentClinic's MedQA sets were generated from MedQA questions): a question is a source
when its case text is similar to the scenario's case text: TF-IDF cosine >= 0.20, or >= 0.10
with the same age ('35-year-old'). Unrelated pairs score 0.03-0.12; sources 0.14-0.82.
Answers are never compared. The output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from clinsim.agents.doctors.knowledge import TfidfIndex
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import bundled_sets, load_report
from clinsim.scenarios.text import iter_text, words

MEDQA = Path("/work/shared/datasets/medqa/medqa_us_4options_test.jsonl")
OUT = Path(__file__).resolve().parents[1] / "agents" / "data" / "baseline_kb.json"
ASKS = re.compile(r"most likely diagnosis|most consistent with which diagnosis", re.I)
NOT_ASKING = re.compile(
    r"confirm|treatment|associated|characteristic|risk|medication|step|support|finding|test",
    re.I,
)
AGE = re.compile(r"(\d+) (year|month|week|day)s? old")
STRONG, WEAK = 0.20, 0.10


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


def diagnosis_questions(path: Path) -> list[dict[str, object]]:
    out = []
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        item = json.loads(raw)
        case, question = split_question(item["question"])
        if ASKS.search(question) and not NOT_ASKING.search(question):
            out.append({"line": line, "diagnosis": item["answer"].strip(), "text": case})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medqa", type=Path, default=MEDQA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    questions = diagnosis_questions(args.medqa)
    scenarios = [s for ss in bundled_sets() for s in load_report(ss.name).scenarios]
    texts = [scenario_text(s) for s in scenarios]
    index = TfidfIndex([str(q["text"]) for q in questions] + texts)
    q_matrix = index.matrix[: len(questions)]
    s_matrix = index.matrix[len(questions) :]
    sims = q_matrix @ s_matrix.T
    excluded: dict[int, str] = {}
    for qi, question in enumerate(questions):
        demo = age(str(question["text"]))
        for si in np.argsort(-sims[qi])[:5]:
            score = float(sims[qi, si])
            if score >= STRONG or (score >= WEAK and demo and demo == age(texts[si])):
                excluded[qi] = f"{scenarios[si].id} (cosine {score:.2f})"
                break
    kept = [q for i, q in enumerate(questions) if i not in excluded]
    data = {
        "about": "MedQA US test questions that ask for a diagnosis: correct option -> case text."
        " See baseline_kb.md.",
        "source": "MedQA (Jin et al. 2021), questions/US/4_options test split; MIT licence",
        "diagnosis_questions": len(questions),
        "excluded_as_scenario_sources": len(excluded),
        "cases": [
            {"diagnosis": q["diagnosis"], "text": q["text"], "source": f"medqa-us-test:{q['line']}"}
            for q in kept
        ],
    }
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(questions)} diagnosis questions, {len(excluded)} excluded, {len(kept)} kept")
    for qi, why in sorted(excluded.items()):
        print(f"  excluded medqa line {questions[qi]['line']}: source of {why}")


if __name__ == "__main__":
    main()
