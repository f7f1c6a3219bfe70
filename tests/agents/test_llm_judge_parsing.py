"""The LLM judge's reply parser: AgentClinic-style yes/no replies in all their shapes."""

from __future__ import annotations

import pytest

from clinsim.agents.llm.judge import VerdictParseError, judge_prompt, parse_grade, parse_verdict
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.scenarios.model import AnswerKey


@pytest.mark.parametrize(
    ("reply", "match", "reason"),
    [
        ("Yes", True, "Yes"),
        ("Yes.", True, "Yes."),
        ("yes", True, "yes"),
        ("**Yes**", True, "Yes"),
        ("YES!", True, "YES!"),
        (
            "yes, because both name the same autoimmune disease",
            True,
            "because both name the same autoimmune disease",
        ),
        ("Yes. Both describe acute MI.", True, "Both describe acute MI."),
        ("No", False, "No"),
        ("No.", False, "No."),
        ("No - one is viral, the other bacterial.", False, "one is viral, the other bacterial."),
        ("**No**, these are different diseases.", False, "these are different diseases."),
        ("Answer: Yes", True, "Answer: Yes"),
        ("Final answer: no — different organ.", False, "different organ."),
        ("> Yes", True, "Yes"),
        ('{"match": true, "reason": "synonyms"}', True, "synonyms"),
        ('{"match": false}', False, ""),
        ('```json\n{"same": "yes", "explanation": "identical"}\n```', True, "identical"),
        ('{"answer": "No", "reason": "different"}', False, "different"),
        ("They are the same disease, so yes.", True, "They are the same disease, so yes."),
        ("These are not the same: no.", False, "These are not the same: no."),
    ],
)
def test_verdicts_are_parsed(reply: str, match: bool, reason: str) -> None:
    assert parse_verdict(reply) == (match, reason)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Maybe.",
        "It depends on the staging.",
        "Yes and no: partly overlapping.",
        "Nope",
        '{"match": "perhaps"}',
    ],
)
def test_replies_without_a_clear_verdict_are_rejected(reply: str) -> None:
    with pytest.raises(VerdictParseError):
        parse_verdict(reply)


def test_judge_prompt_follows_agentclinic_and_lists_synonyms() -> None:
    prompt = judge_prompt(
        SubmitDiagnosis(diagnosis="Heart attack"),
        AnswerKey(diagnosis="Myocardial infarction", synonyms=["MI"]),
    )
    assert prompt.startswith("Here is the correct diagnosis: Myocardial infarction")
    assert "(also called: MI)" in prompt
    assert "Here was the doctor's diagnosis: Heart attack" in prompt
    assert prompt.endswith("Are these the same?")


@pytest.mark.parametrize(
    ("reply", "grade", "match", "reason"),
    [
        (
            "synonym - another name of the same disease",
            "synonym",
            True,
            "another name of the same disease",
        ),
        ("**More specific**: a subtype of it.", "more_specific", True, "a subtype of it."),
        (
            "Grade: less_specific. A broader category.",
            "less_specific",
            False,
            "A broader category.",
        ),
        (
            "related, the opposite form (hypo vs hyper).",
            "related",
            False,
            "the opposite form (hypo vs hyper).",
        ),
        ("The doctor's answer is exact.", "exact", True, "The doctors answer is exact."),
        (
            '{"grade": "more-specific", "reason": "adds the cause"}',
            "more_specific",
            True,
            "adds the cause",
        ),
        ('{"grade": "wrong"}', "wrong", False, ""),
        # a clear yes or no without a grade still counts, without a grade
        ("Yes, the same disease.", None, True, "the same disease."),
    ],
)
def test_graded_replies_give_the_grade_and_the_match_it_implies(
    reply: str, grade: str | None, match: bool, reason: str
) -> None:
    assert parse_grade(reply) == (grade, match, reason)


@pytest.mark.parametrize("reply", ["Hard to say.", "It is related, or maybe wrong.", ""])
def test_a_reply_with_neither_grade_nor_yes_no_is_refused(reply: str) -> None:
    with pytest.raises(VerdictParseError, match="no grade"):
        parse_grade(reply)
