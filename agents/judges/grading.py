"""Grading one answer name against one reference name.

Three readings are combined and the best grade wins:

1. **Names** (`matching`): the same name after normalisation is `exact`; spelling, order,
   abbreviation, the override vocabulary's synonym groups and harmless qualifiers give `synonym`;
   an answer that adds only qualifiers to the reference is `more_specific`.
2. **Concepts** (`concepts`, ICD-10-CM; relations in `codes`): two names of one code are
   `synonym`; a descendant code is `more_specific`, an ancestor `less_specific`; a name read as
   "X NOS" is less specific than the code's other names; the members listed under a catch-all
   code ("Other ...", or more than four inclusion terms) are kinds of its title, not names of
   each other (`related`); so are the members of a title that lists several conditions
   ("Syringomyelia and syringobulbia"), each a kind of the whole listing. A name that is the
   title of its own code is that condition: another code's inclusion term with the same words
   ("Stenosis of aorta" under "Coarctation of aorta" for "aortic stenosis") only relates it. A
   code in the same block is `related`.
3. **Containment**: an answer holding every word of the reference plus words that specialise it
   ("Acute sigmoid diverticulitis" for "Diverticulitis", "X due to Y" for "X") is
   `more_specific`, unless an extra word changes the entity ("pseudo", "non", "like", "old",
   see `not_specialising`) or both names are coded in different blocks ("Diabetes insipidus" is
   not a kind of "Diabetes").

Names with contradicting words (acute/chronic, left/right, benign/malignant, primary/secondary;
`exclusive` in the vocabulary) never grade above `related` through readings 2 and 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations, product

from clinsim.agents.judges.codes import GENERIC_EXTRA, CodeComparer
from clinsim.agents.judges.concepts import ConceptMapper, Mapping, Speller
from clinsim.agents.judges.lexicon import Lexicon, Terms
from clinsim.agents.judges.matching import forms, match_name
from clinsim.agents.judges.terminology import (
    BAG_FILLER,
    Concept,
    Terminology,
    bag,
    plain_names,
)
from clinsim.environments.events import GRADES, ConceptRef, Grade, MatchEvidence

CORRECT: frozenset[Grade] = frozenset({"exact", "synonym", "more_specific"})
MAX_EXTRA_WORDS = 8
CAUSE = re.compile(
    r"\b(?:due\s+to|secondary\s+to|caused\s+by|because\s+of|from|after|following)\s|"
    r"\w[-\s](?:induced|related|associated|mediated|triggered|provoked)\b",
    re.I,
)
"""A cause named in the answer: the words it adds specialise ('X due to Y', 'Y-related X')."""
LISTING = re.compile(r"\s(?:and|plus|&)\s|[,;+]", re.I)
"""Names listed together ('X with Y and Z'): an added word may be another condition."""


@dataclass(frozen=True)
class Graded:
    grade: Grade
    how: str
    answer: str
    reference: str
    answer_concept: Concept | None = None
    reference_concept: Concept | None = None

    def concepts(self) -> tuple[Concept | None, Concept | None]:
        return self.answer_concept, self.reference_concept

    def evidence(self) -> MatchEvidence:
        def ref(concept: Concept | None) -> ConceptRef | None:
            if concept is None:
                return None
            return ConceptRef(code=concept.code, title=concept.title, term=concept.term)

        return MatchEvidence(
            answer=self.answer,
            reference=self.reference,
            grade=self.grade,
            how=self.how,
            answer_concept=ref(self.answer_concept),
            reference_concept=ref(self.reference_concept),
        )


def better(a: Graded | None, b: Graded | None) -> Graded | None:
    """The higher grade; on a tie the first, with the other's terminology evidence when the
    first has none."""
    if a is None or b is None:
        return b if a is None else a
    rank_a, rank_b = GRADES.index(a.grade), GRADES.index(b.grade)
    if rank_b < rank_a:
        return b
    if rank_b == rank_a and a.answer_concept is None and b.answer_concept is not None:
        return Graded(a.grade, a.how, a.answer, a.reference, *b.concepts())
    return a


class Grader:
    def __init__(self, lexicon: Lexicon, terminology: Terminology):
        self.lexicon = lexicon
        self.terminology = terminology
        self.mapper = ConceptMapper(lexicon, terminology)
        self.speller = Speller(lexicon, terminology)
        self.codes = CodeComparer(lexicon, terminology)

    # ------------------------------------------------------------ entry point

    def grade(self, answer: str, reference: str) -> Graded:
        found = self._grade_spelled(answer, reference)
        alias = self._coded_alias(answer)
        if alias is not None and found.grade not in ("exact", "synonym"):
            via = self._grade_spelled(alias, reference)
            if GRADES.index(via.grade) < GRADES.index(found.grade):
                how = f"{via.how} (through '{alias}', named in parentheses)"
                return Graded(via.grade, how, answer, reference, *via.concepts())
        return found

    def _coded_alias(self, name: str) -> str | None:
        """A one-word parenthesis closing a name that the terminology knows as a diagnosis
        ('Protein malnutrition (kwashiorkor)'); longer ones are aliases already."""
        hit = re.search(r"\(\s*([A-Za-z][\w'-]*)\s*\)\s*$", name)
        if hit is None or name[: hit.start()].strip() == "":
            return None
        word = hit.group(1)
        return word if any(m.full for m in self.mapper.map(word)) else None

    def _grade_spelled(self, answer: str, reference: str) -> Graded:
        fixed_a, fixed_r = self.speller.correct(answer), self.speller.correct(reference)
        if (fixed_a, fixed_r) == (answer, reference):
            return self._grade(answer, reference)
        found = self._grade(fixed_a, fixed_r)
        note = f" (read as {fixed_a!r} / {fixed_r!r})"
        return Graded(found.grade, found.how + note, answer, reference, *found.concepts())

    def _grade(self, answer: str, reference: str) -> Graded:
        found = self._by_name(answer, reference)
        if found is not None and found.grade == "exact":
            return found
        clash = self._clash(answer, reference)
        found = better(found, self._by_concept(answer, reference, clash))
        found = better(found, self._by_containment(answer, reference, clash))
        if found is None:
            detail = f" (differs: {clash})" if clash else ""
            return Graded("wrong", f"no name or concept in common{detail}", answer, reference)
        return found

    def _clash(self, answer: str, reference: str) -> str | None:
        for a, r in product(forms(answer, self.lexicon), forms(reference, self.lexicon)):
            clash = self.lexicon.conflict(a.terms, r.terms)
            if clash:
                return clash
        return None

    # ------------------------------------------------------------ 1. names

    def _by_name(self, answer: str, reference: str) -> Graded | None:
        found = match_name(answer, [reference], self.lexicon)
        if found is None:
            return None
        grade: Grade = "exact" if found.level == 1 else "synonym"
        if found.level == 7:
            grade = "more_specific"
        return Graded(grade, found.reason, answer, reference)

    # ------------------------------------------------------------ 2. concepts

    def _by_concept(self, answer: str, reference: str, clash: str | None) -> Graded | None:
        best: Graded | None = None
        maps_a, maps_r = self.mapper.map(answer), self.mapper.map(reference)
        alike = _full_codes(maps_a) == _full_codes(maps_r)
        for ma, mr in product(maps_a, maps_r):
            found = self.codes.compare(ma, mr)
            if found is None:
                continue
            grade, how = found
            named = "" if alike else self._named_elsewhere(ma, mr)
            if clash:
                grade, how = "related", f"{how}, but {clash}"
            elif named and grade != "related":
                grade, how = "related", f"{how}, but {named}"
            elif grade in ("more_specific", "less_specific") and self._changes_entity(
                answer, reference
            ):
                grade, how = "related", f"{how}, but the extra words change the entity"
            best = better(best, Graded(grade, how, answer, reference, ma.concept, mr.concept))
        return best

    def _named_elsewhere(self, ma: Mapping, mr: Mapping) -> str:
        """Why a match through another code's reading of a name is no match: the name is the
        title of its own code, a different named condition (empty when neither side is)."""
        for side, m in (("answer", ma), ("reference", mr)):
            if m.named_by:
                own = self.terminology.describe(m.named_by)
                return f"the {side} is the title of {own}, another named condition"
        return ""

    # ------------------------------------------------------------ 3. containment

    def _word_sets(self, name: str) -> list[set[str]]:
        """The words of each form of a name (its main text, alias, abbreviation expansions)."""
        return [{w for w in f.terms if w not in BAG_FILLER} for f in forms(name, self.lexicon)]

    def _changes_entity(self, answer: str, reference: str) -> bool:
        """The answer holds the reference's words plus one that is not a specialisation."""
        for a, r in product(self._word_sets(answer), self._word_sets(reference)):
            for big, small in ((a, r), (r, a)):
                if small < big and (big - small) & self.lexicon.not_specialising:
                    return True
        return False

    def _containment_forms(self, name: str, with_concepts: bool) -> list[Terms]:
        """A name's forms, and (for answers) the titles of the concepts it names fully:
        'Addison disease' is 'Primary adrenocortical insufficiency'."""
        out = [f.terms for f in forms(name, self.lexicon)]
        if with_concepts:
            for m in self.mapper.map(name):
                # a member or another code's reading of the name is not a kind of that title
                if (
                    m.full
                    and m.concept.kind not in ("nos", "member")
                    and not m.named_by
                    and not self.terminology.from_phenotypes(m.concept)
                ):
                    titles = plain_names(m.concept.title)
                    out += [self.lexicon.canon(titles[0])] if titles else []
        return out

    def _by_containment(self, answer: str, reference: str, clash: str | None) -> Graded | None:
        if clash:
            return None
        best: Graded | None = None
        answer_forms = self._containment_forms(answer, True)
        for ta, tr in product(answer_forms, self._containment_forms(reference, False)):
            if not self.lexicon.conflict(ta, tr):
                best = better(best, self._contained(ta, tr, answer, reference))
        return best

    def _lists(self, longer: str, shorter: str) -> bool:
        """Whether `longer` is the title of a code that lists `shorter` as one of its members
        ('Syringomyelia and syringobulbia' / 'Syringomyelia'): not a kind of it."""
        titles = {m.concept.code for m in self.mapper.map(longer) if m.concept.kind == "title"}
        return any(
            m.concept.kind == "member" and m.concept.code in titles
            for m in self.mapper.map(shorter)
        )

    def _contained(self, ta: Terms, tr: Terms, answer: str, reference: str) -> Graded | None:
        lex = self.lexicon
        a = {w for w in ta if w not in BAG_FILLER} | lex.implied(ta)
        r = {w for w in tr if w not in BAG_FILLER} | lex.implied(tr)
        weak = lex.qualifiers | lex.generic_suffixes
        if a == r or not (a - weak) or not (r - weak):
            return None
        if r < a:
            grade: Grade = "more_specific"
            extra, longer, shorter = a - r, ta, r
        elif a < r:
            grade, extra, longer, shorter = "less_specific", r - a, tr, a
        else:
            return None
        if extra <= lex.generic_suffixes | GENERIC_EXTRA:
            return Graded(
                "synonym", f"equal apart from {' '.join(sorted(extra))}", answer, reference
            )
        if lex.integral(longer) and extra & lex.droppable:
            return None  # 'chronic granulomatous disease' is not a chronic granulomatous disease
        if not self.codes.specialises(extra, longer, shorter) or self._coded_apart(
            answer, reference
        ):
            return None
        longer_name, shorter_name = (
            (answer, reference) if grade == "more_specific" else (reference, answer)
        )
        if self._lists(longer_name, shorter_name):
            return None
        listed = LISTING.search(longer_name) and not CAUSE.search(longer_name)
        if listed and self._adds_condition(extra, shorter_name):
            return None
        side = "answer adds" if grade == "more_specific" else "reference adds"
        return Graded(grade, f"{side} {' '.join(sorted(extra))}", answer, reference)

    def _adds_condition(self, extra: set[str], shorter: str) -> bool:
        """The extra words name a condition of their own, coded outside the shorter name's
        blocks ('Pneumonia with pleural effusion': an effusion is not a kind of pneumonia)."""
        words = sorted(extra)[:MAX_EXTRA_WORDS]
        blocks = {self.terminology.block(m.concept.code) for m in self.mapper.map(shorter)}
        for size in range(len(words), 1, -1):
            for part in combinations(words, size):
                for concept in self.terminology.lookup(bag(part)):
                    if self.terminology.block(concept.code) not in blocks:
                        return True
        return False

    def _coded_apart(self, answer: str, reference: str) -> bool:
        """Both names fully coded, and in no common block: different entities. A concept of
        the phenotype ontology outside the tabular list's hierarchy says nothing about that."""
        term = self.terminology
        full_a = [m for m in self.mapper.map(answer) if m.full and not term.isolated(m.concept)]
        full_r = [m for m in self.mapper.map(reference) if m.full and not term.isolated(m.concept)]
        if not full_a or not full_r:
            return False
        return all(
            self.codes.relation(ma.concept.code, mr.concept.code) is None
            for ma, mr in product(full_a, full_r)
        )


def _full_codes(maps: tuple[Mapping, ...]) -> frozenset[str]:
    """The codes a name fully maps to (empty when it maps to none fully)."""
    return frozenset(m.concept.code for m in maps if m.full)
