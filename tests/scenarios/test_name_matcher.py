"""One rule for 'this text names the diagnosis', shared by both patients."""

from __future__ import annotations

import pytest

from clinsim.scenarios.text import NameMatcher


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I think it might be chronic lymphocytic leukemia.", True),
        ("CHRONIC-LYMPHOCYTIC LEUKEMIA?", True),
        ("the doctor said CLL once", True),
        ("lymphocytic leukemia is scary", False),
        ("my sister had leukemia-like bruises", False),
    ],
)
def test_names_aliases_and_whole_phrases(text: str, found: bool) -> None:
    assert NameMatcher(["Chronic lymphocytic leukemia (CLL)"]).found_in(text) is found


def test_plurals_accents_and_possessives_are_normalised() -> None:
    matcher = NameMatcher(["Seborrheic keratosis", "Hirschsprung's disease"])
    assert matcher.found_in("several seborrheic keratoses on the back")
    assert matcher.found_in("consistent with Hirschsprung’s disease")


def test_leading_qualifiers_are_stripped_only_when_asked() -> None:
    name = ["Acute myocardial infarction"]
    assert not NameMatcher(name).found_in("it was a myocardial infarction")
    assert NameMatcher(name, strip_qualifiers=True).found_in("it was a myocardial infarction")


def test_two_letter_aliases_do_not_collide_with_ordinary_words() -> None:
    matcher = NameMatcher(["Diabetic retinopathy (DR)", "PE"])
    assert not matcher.found_in("Dr. Agent will see you; PE lessons at school")
    assert matcher.found_in("signs of diabetic retinopathy")
    assert not NameMatcher(["PE"])


def test_a_trailing_lower_case_qualifier_is_not_an_alias() -> None:
    matcher = NameMatcher(["Peritoneal adhesions (postprocedural) (postinfection)"])
    assert not matcher.found_in("postinfection fever")
    assert matcher.found_in("known peritoneal adhesions")
