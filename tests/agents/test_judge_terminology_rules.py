"""How the rules judge reads the tabular list: a title that lists several conditions names a
category of members, not synonyms; a name that is the title of its own code is not made another
code's synonym by an inclusion term with the same words; 'without' keeps what it negates.

Each rule is shown twice: on a small made-up tabular list (so the rule, not a particular code,
decides) and on pairs of the real ICD-10-CM index."""

from __future__ import annotations

import pytest
from judging import judge_pair

from clinsim.agents.judges.grading import Grader
from clinsim.agents.judges.lexicon import default_lexicon
from clinsim.agents.judges.terminology import Entry, Terminology, bag, index_entries

MADE_UP = [
    Entry("A00-A09", "First made-up block", None, None),
    Entry("B00-B09", "Second made-up block", None, None),
    Entry("A01", "Esophageal stenosis", "A00-A09"),
    Entry("B01", "Esophageal web", "B00-B09", ("Stenosis of esophagus",)),
    Entry("B02", "Ranula", "B00-B09", ("Sublingual cyst",)),
    Entry("B03", "Hydromyelia and hydrobulbia", "B00-B09"),
    Entry("B04", "Wound of cornea with or without foreign body", "B00-B09"),
    Entry("B05", "Vertigo without tinnitus", "B00-B09"),
    Entry("B06", "Tinnitus without vertigo", "B00-B09"),
]


def grader(entries: list[Entry]) -> Grader:
    lexicon = default_lexicon()
    return Grader(lexicon, Terminology(index_entries(entries, lexicon.canon)))


@pytest.fixture(scope="module")
def made_up() -> Grader:
    return grader(MADE_UP)


def test_a_site_adjective_name_with_its_own_code_is_not_a_synonym_of_a_malformation(
    made_up: Grader,
) -> None:
    # 'esophageal' reads as 'esophagus', so 'Esophageal stenosis' has the words of B01's
    # inclusion term 'Stenosis of esophagus'; but it is A01's own title, another condition
    for answer in ("Esophageal stenosis", "Stenosis of the esophagus"):
        found = made_up.grade(answer, "Esophageal web")
        assert found.grade == "related", found.how
        assert "title of A01 Esophageal stenosis" in found.how
    assert made_up.grade("Esophageal web", "Esophageal stenosis").grade == "related"


def test_without_a_code_of_its_own_the_inclusion_term_still_names_its_code() -> None:
    alone = grader([e for e in MADE_UP if e.code != "A01"])
    assert alone.grade("Esophageal stenosis", "Esophageal web").grade == "synonym"
    assert alone.grade("Sublingual cyst", "Ranula").grade == "synonym"


def test_an_inclusion_term_no_other_code_names_is_a_synonym(made_up: Grader) -> None:
    found = made_up.grade("Sublingual cyst", "Ranula")
    assert found.grade == "synonym"
    assert found.answer_concept is not None and found.answer_concept.code == "B02"


def test_members_of_an_x_and_y_title_are_different_conditions(made_up: Grader) -> None:
    assert made_up.grade("Hydrobulbia", "Hydromyelia").grade == "related"
    assert made_up.grade("Hydromyelia", "Hydrobulbia").grade == "related"
    assert made_up.grade("Hydromyelia", "Hydromyelia and hydrobulbia").grade == "more_specific"
    assert made_up.grade("Hydromyelia and hydrobulbia", "Hydromyelia").grade == "less_specific"
    found = made_up.grade("Hydromyelia", "Hydromyelia")
    assert found.grade == "exact"


def test_with_or_without_names_the_category_and_its_two_members(made_up: Grader) -> None:
    with_body, without_body = (
        "Wound of cornea with foreign body",
        "Wound of cornea without foreign body",
    )
    assert made_up.grade(with_body, without_body).grade == "related"
    assert made_up.grade(without_body, with_body).grade == "related"
    assert made_up.grade(without_body, "Wound of cornea").grade == "more_specific"
    assert made_up.grade("Wound of cornea", with_body).grade == "less_specific"


def test_what_without_negates_stays_in_the_index_key(made_up: Grader) -> None:
    assert bag(("vertigo", "without", "tinnitus")) != bag(("tinnitus", "without", "vertigo"))
    # 'with' ends what 'without' negates
    with_nausea = ("vertigo", "without", "tinnitus", "with", "nausea")
    assert bag(with_nausea) == bag(("nausea", "vertigo", "without", "tinnitus"))
    for answer, reference in [
        ("Tinnitus without vertigo", "Vertigo without tinnitus"),
        ("Vertigo without tinnitus", "Tinnitus without vertigo"),
    ]:
        assert made_up.grade(answer, reference).grade not in ("exact", "synonym")


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        # members of one ICD-10-CM title or inclusion term that lists several conditions
        ("Chronic adenoiditis", "Chronic tonsillitis"),
        ("Amebic liver abscess", "Amebic lung abscess"),
        ("Esophageal cancer", "Malignant neoplasm of cardia"),
        (
            "Penetrating wound of orbit with foreign body",
            "Penetrating wound of orbit without foreign body",
        ),
        # what 'without' negates
        ("Vomiting without nausea", "Nausea without vomiting"),
        ("Vomiting without nausea", "Nausea"),
    ],
)
def test_different_members_and_negations_stay_wrong_both_ways(answer: str, reference: str) -> None:
    for a, r in ((answer, reference), (reference, answer)):
        verdict = judge_pair(r, a)
        assert not verdict.match, verdict.reason
        assert verdict.grade in ("related", "wrong", "less_specific"), verdict.reason


@pytest.mark.parametrize(
    ("answer", "reference", "grade"),
    [
        ("Chronic tonsillitis", "Chronic tonsillitis and adenoiditis", "more_specific"),
        ("Chronic tonsillitis and adenoiditis", "Chronic tonsillitis", "less_specific"),
        ("Malignant neoplasm of the lung", "Lung cancer", "synonym"),
        ("Malignant neoplasm of upper lobe of lung", "Malignant neoplasm of lung", "more_specific"),
        ("Nausea without vomiting", "Nausea", "more_specific"),
    ],
)
def test_a_member_is_a_kind_of_its_listing_and_keeps_its_other_names(
    answer: str, reference: str, grade: str
) -> None:
    verdict = judge_pair(reference, answer)
    assert verdict.grade == grade, verdict.reason
