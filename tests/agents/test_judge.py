"""The rules judge: matching rules, ranked differential, hard negatives, the bundled data."""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pytest
from judging import judge_pair
from players import player

from clinsim.agents.judges.lexicon import LexiconError, lexicon_from_dict, load_lexicon
from clinsim.agents.judges.rules import RulesJudge
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.scenarios.model import AnswerKey
from clinsim.scenarios.sets import load_report
from clinsim.scenarios.text import split_parentheses

PAIRS = Path(__file__).parent / "data" / "judge_pairs.jsonl"


@pytest.mark.parametrize(
    ("reference", "answer", "how"),
    [
        ("Hirschsprung’s disease", "hirschsprung disease", "exact after normalisation"),
        ("Legg-Calvé-Perthes disease (LCPD)", "LCPD", "abbreviation LCPD"),
        ("Myocardial infarction", "Acute MI", "abbreviation MI = myocardial infarction"),
        ("Varicella", "chickenpox", "synonym"),
        ("Posttraumatic stress disorder", "post-traumatic stress disorder", "spacing"),
        ("Papillary carcinoma of the thyroid", "papillary thyroid carcinoma", "order"),
        ("Acute Hepatitis B", "Hepatitis B", "equal apart from 'acute'"),
        ("Pneumonia", "right lower lobe pneumonia", "qualifier(s) 'right lower lobe'"),
        ("Seborrheic keratosis", "Seborrhoeic keratoses", "exact after normalisation"),
    ],
)
def test_matches_say_how(reference: str, answer: str, how: str) -> None:
    verdict = judge_pair(reference, answer)
    assert verdict.match and verdict.rank == 1
    assert how in verdict.reason


@pytest.mark.parametrize(
    ("reference", "answer"),
    [
        ("Type 1 diabetes mellitus", "Type 2 diabetes mellitus"),
        ("Hepatitis A", "Hepatitis B"),
        ("Left heart failure", "Right heart failure"),
        ("Acute hepatitis B", "Chronic hepatitis B"),
        ("Chronic granulomatous disease", "Granulomatous disease"),
        ("Respiratory distress syndrome", "Acute respiratory distress syndrome"),
        ("Cushing syndrome", "Cushing disease"),
        ("Diabetes", "Diabetes insipidus"),
        ("Hemophilia A", "Hemophilia B"),
        (
            "Cystine and triple phosphate (struvite) crystals",
            "Calcium oxalate and triple phosphate (struvite) crystals",
        ),
    ],
)
def test_hard_negatives(reference: str, answer: str) -> None:
    assert not judge_pair(reference, answer).match
    assert not judge_pair(answer, reference).match


def test_conflicting_words_are_named_in_the_reason() -> None:
    verdict = judge_pair("Acute hepatitis B", "Chronic hepatitis B")
    assert "acute" in verdict.reason and "chronic" in verdict.reason


async def test_rank_comes_from_the_differential_but_match_only_from_the_diagnosis() -> None:
    key = AnswerKey(diagnosis="Myasthenia gravis")
    judge = RulesJudge()
    submission = SubmitDiagnosis(
        diagnosis="Lambert-Eaton syndrome", differential=["Botulism", "MG", "Polymyositis"]
    )
    verdict = await judge.judge(submission, key)
    assert (verdict.match, verdict.rank) == (False, 3)
    assert "differential #2" in verdict.reason
    none = await judge.judge(SubmitDiagnosis(diagnosis="Botulism"), key)
    assert (none.match, none.rank) == (False, None)
    assert "no candidate matches" in none.reason


async def test_answer_key_synonyms_are_accepted() -> None:
    key = AnswerKey(diagnosis="Osteoclastoma", synonyms=["Giant cell tumour of bone"])
    verdict = await RulesJudge().judge(SubmitDiagnosis(diagnosis="giant cell tumor of bone"), key)
    assert verdict.match


def test_registered_as_rules(tmp_path: Path) -> None:
    scenario = load_report("agentclinic-medqa").scenarios[0]
    judge = player("judge", "rules", scenario)
    assert isinstance(judge, RulesJudge) and judge.name == "rules"
    with pytest.raises(LexiconError, match=r"absent\.json: no such file"):
        player("judge", "rules", scenario, vocabulary=str(tmp_path / "absent.json"))


def _bundled_diagnoses() -> list[AnswerKey]:
    return [s.answer for s in load_report("agentclinic-medqa-ext").scenarios]


def test_every_bundled_diagnosis_matches_itself_and_its_paraphrases() -> None:
    judge = RulesJudge()
    for key in _bundled_diagnoses():
        name = key.diagnosis
        for variant in (name, name.upper(), name.lower() + ".", f"Diagnosis: {name}"):
            assert judge.verdict(variant, [], key).match, variant


def test_distinct_bundled_diagnoses_do_not_match_each_other() -> None:
    """Across the 182 distinct MedQA-ext diagnoses, in both directions, only other names of one
    disease match, and a subtype given for its parent; never the parent for the subtype."""
    names = sorted({k.diagnosis for k in _bundled_diagnoses()})
    judge = RulesJudge()
    matched = set()
    for reference, answer in permutations(names, 2):
        verdict = judge.verdict(answer, [], AnswerKey(diagnosis=reference))
        spellings = {judge.lexicon.canon(split_parentheses(n)[0]) for n in (reference, answer)}
        if verdict.match and len(spellings) > 1:
            matched.add((reference.lower(), answer.lower(), verdict.grade))
    names_of_one = {
        ("chickenpox", "varicella"),
        ("respiratory distress syndrome", "neonatal respiratory distress syndrome (nrds)"),
    }
    assert {(r, a) for r, a, g in matched if g in ("synonym", "exact")} == names_of_one | {
        (a, r) for r, a in names_of_one
    } | {
        (
            "progressive multifocal encephalopathy (pml)",
            "progressive multifocal leukoencephalopathy",
        ),
        (
            "progressive multifocal leukoencephalopathy",
            "progressive multifocal encephalopathy (pml)",
        ),
    }
    assert {(r, a) for r, a, g in matched if g == "more_specific"} == {
        ("hemophilia", "hemophilia a"),
        ("gastric peptic ulcer", "perforated gastric peptic ulcer"),
    }


def test_agreement_with_labelled_pairs() -> None:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 60 and sum(not r["label"] for r in rows) >= 30
    agree = sum(judge_pair(r["reference"], r["answer"]).match == r["label"] for r in rows)
    false_pos = sum(judge_pair(r["reference"], r["answer"]).match and not r["label"] for r in rows)
    assert false_pos == 0
    assert agree / len(rows) >= 0.95


def test_vocabulary_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="synonyms"):
        lexicon_from_dict({"synonyms": [["only one"]]}, "mine.json")
    bad = tmp_path / "v.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(LexiconError, match="not a JSON file"):
        load_lexicon(bad)


def test_custom_vocabulary_extends_matching() -> None:
    lexicon = lexicon_from_dict({"synonyms": [["kissing disease", "infectious mononucleosis"]]})
    assert not judge_pair("Infectious mononucleosis", "kissing disease").match
    assert judge_pair("Infectious mononucleosis", "kissing disease", lexicon).match
