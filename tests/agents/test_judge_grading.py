"""The graded rules judge: grades with their ICD-10-CM evidence, hard negatives in both
directions, hedged free text, the run option for less specific answers, the index cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judging import judge_pair
from players import player

from clinsim.agents.judges.hedging import candidates
from clinsim.agents.judges.lexicon import default_lexicon
from clinsim.agents.judges.rules import RulesJudge
from clinsim.agents.judges.terminology import load_terminology
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.events import EVENT_ADAPTER, DiagnosisJudged
from clinsim.scenarios.model import AnswerKey
from clinsim.scenarios.sets import load_report


@pytest.mark.parametrize(
    ("reference", "answer", "grade", "code"),
    [
        ("Varicella", "varicella", "exact", None),
        ("Primary biliary cirrhosis", "Primary biliary cholangitis", "synonym", "K74.3"),
        ("Takotsubo cardiomyopathy", "Stress induced cardiomyopathy", "synonym", "I51.81"),
        ("Reactive arthritis", "Reiter's disease", "synonym", "M02.3"),
        ("Pneumonia", "Lobar pneumonia", "more_specific", "J18.1"),
        ("Hemophilia", "Hemophilia B", "more_specific", None),
        ("Diverticulitis", "Acute sigmoid diverticulitis", "more_specific", None),
        ("Lung cancer", "Adenocarcinoma of the lung", "more_specific", None),
        ("Type 2 diabetes mellitus", "Diabetes", "less_specific", "E11"),
        ("Non-Hodgkin lymphoma", "Lymphoma", "less_specific", "C85.9"),
        ("Hemophilia A", "Hemophilia B", "related", "D67"),
        ("Hodgkin lymphoma", "Non-Hodgkin lymphoma", "related", None),
        ("Myasthenia gravis", "Sarcoidosis", "wrong", None),
    ],
)
def test_grades_carry_their_evidence(
    reference: str, answer: str, grade: str, code: str | None
) -> None:
    verdict = judge_pair(reference, answer)
    assert verdict.grade == grade, verdict.reason
    assert verdict.match == (grade in ("exact", "synonym", "more_specific"))
    evidence = verdict.evidence[0]
    assert (evidence.answer, evidence.reference, evidence.grade) == (answer, reference, grade)
    if code is not None:
        assert evidence.answer_concept is not None and evidence.answer_concept.code == code


NEAR_MISSES = [
    ("Hypothyroidism", "Hyperthyroidism"),
    ("Hypokalemia", "Hyperkalemia"),
    ("Type 1 diabetes mellitus", "Type 2 diabetes mellitus"),
    ("Left ventricular failure", "Right ventricular failure"),
    ("Acute pancreatitis", "Chronic pancreatitis"),
    ("Acute kidney failure", "Chronic kidney failure"),
    ("Benign prostatic hyperplasia", "Prostate cancer"),
    ("Primary hyperparathyroidism", "Secondary hyperparathyroidism"),
    ("Metabolic alkalosis", "Respiratory alkalosis"),
    ("Nephritic syndrome", "Nephrotic syndrome"),
    ("Immune thrombocytopenic purpura", "Thrombotic thrombocytopenic purpura"),
    ("Sickle cell disease", "Sickle cell trait"),
    ("Schizophrenia", "Schizophreniform disorder"),
    ("Cholelithiasis", "Choledocholithiasis"),
    ("Meigs syndrome", "Pseudo-Meigs syndrome"),
    ("Serum sickness", "Serum sickness-like reaction"),
    ("Diabetes", "Diabetes insipidus"),
    ("Testicular torsion", "Torsion of the appendix testis"),
    ("Acalculous cholecystitis", "Calculous cholecystitis"),
    ("Pneumonia", "Pneumonia with pleural effusion and lung abscess"),
    ("Cushing syndrome", "Cushing disease"),
    ("Myocardial infarction", "Old myocardial infarction"),
]


@pytest.mark.parametrize(("first", "second"), NEAR_MISSES)
def test_near_misses_stay_wrong_both_ways(first: str, second: str) -> None:
    for reference, answer in ((first, second), (second, first)):
        verdict = judge_pair(reference, answer)
        assert not verdict.match, f"{answer!r} for {reference!r}: {verdict.reason}"


def test_contradicting_words_are_named() -> None:
    verdict = judge_pair("Acute hepatitis B", "Chronic hepatitis B")
    assert not verdict.match and "acute" in verdict.reason and "chronic" in verdict.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Most likely X-disease; Y-syndrome less likely", ["X-disease", "Y-syndrome"]),
        ("Y-syndrome less likely; X-disease", ["X-disease", "Y-syndrome"]),
        ("Gout, rule out septic arthritis", ["Gout", "septic arthritis"]),
        ("Gout r/o pseudogout", ["Gout", "pseudogout"]),
        ("Gout vs. pseudogout", ["Gout", "pseudogout"]),
        ("1. Gout 2. Pseudogout 3) Septic arthritis", ["Gout", "Pseudogout", "Septic arthritis"]),
        ("Probable gout. Ddx: pseudogout, cellulitis", ["gout", "pseudogout", "cellulitis"]),
        ("The most likely diagnosis is gout.", ["gout"]),
        ("Gout (most likely)", ["Gout"]),
        ("Atrial fibrillation, paroxysmal", ["Atrial fibrillation, paroxysmal"]),
        ("E. coli sepsis", ["E. coli sepsis"]),
        ("Graft versus host disease", ["Graft versus host disease"]),
    ],
)
def test_hedged_text_is_read_as_a_ranked_list(text: str, expected: list[str]) -> None:
    assert candidates(text) == expected


async def test_hedged_answers_keep_their_ranks() -> None:
    judge = RulesJudge()
    key = AnswerKey(diagnosis="Pseudogout")
    lead = await judge.judge(
        SubmitDiagnosis(diagnosis="Most likely pseudogout; gout less likely"), key
    )
    assert (lead.match, lead.rank) == (True, 1)
    second = await judge.judge(SubmitDiagnosis(diagnosis="Gout, rule out pseudogout"), key)
    assert (second.match, second.rank) == (False, 2)
    assert "named #2 in the diagnosis text" in second.reason
    listed = await judge.judge(
        SubmitDiagnosis(diagnosis="Gout vs cellulitis", differential=["Pseudogout"]), key
    )
    assert (listed.match, listed.rank) == (False, 3) and "differential #1" in listed.reason


def test_less_specific_is_correct_only_when_the_run_asks() -> None:
    scenario = load_report("agentclinic-medqa").scenarios[0]
    key = AnswerKey(diagnosis="Papillary thyroid carcinoma")
    for accept in (False, True):
        judge = player("judge", "rules", scenario, accept_less_specific=accept)
        assert isinstance(judge, RulesJudge)
        verdict = judge.verdict("Thyroid cancer", [], key)
        assert verdict.grade == "less_specific" and verdict.match is accept


def test_stored_verdicts_without_grades_still_load() -> None:
    old = {"kind": "diagnosis_judged", "judge": "rules", "match": True, "reason": "exact"}
    event = EVENT_ADAPTER.validate_json(json.dumps(old))
    assert isinstance(event, DiagnosisJudged) and event.grade is None and event.evidence == []
    verdict = judge_pair("Primary biliary cirrhosis", "PBC")
    new = DiagnosisJudged(
        judge="rules", match=True, reason="", grade=verdict.grade, evidence=verdict.evidence
    )
    again = EVENT_ADAPTER.validate_json(new.model_dump_json())
    assert again == new


def test_the_index_is_cached_and_a_broken_cache_is_rebuilt(tmp_path: Path) -> None:
    lexicon = default_lexicon()
    built = load_terminology(lexicon.canon, lexicon.canon_signature(), tmp_path)
    files = list(tmp_path.glob("icd10cm-*.json"))
    assert len(files) == 1
    cached = load_terminology(lexicon.canon, lexicon.canon_signature(), tmp_path)
    assert cached.index == built.index and cached.lookup("varicella")[0].code == "B01"
    files[0].write_text("{not json", encoding="utf-8")
    rebuilt = load_terminology(lexicon.canon, lexicon.canon_signature(), tmp_path)
    assert rebuilt.lookup("varicella")[0].code == "B01"
    assert json.loads(files[0].read_text(encoding="utf-8"))["version"] == built.version
