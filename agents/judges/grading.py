"""Grading one answer name against one reference name.

Three readings are combined and the best grade wins:

1. **Names** (`matching`): the same name after normalisation is `exact`; spelling, order,
   abbreviation, the override vocabulary's synonym groups and harmless qualifiers give `synonym`;
   an answer that adds only qualifiers to the reference is `more_specific`.
2. **Concepts** (`concepts`, ICD-10-CM): two names of one code are `synonym`; a descendant code
   is `more_specific`, an ancestor `less_specific`; a name read as "X NOS" is less specific than
   the code's other names; the members listed under a catch-all code ("Other ...", or more than
   four inclusion terms) are kinds of its title, not names of each other (`related`). A code in
   the same block is `related`.
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

from clinsim.agents.judges.concepts import ConceptMapper, Mapping, Speller
from clinsim.agents.judges.lexicon import Lexicon, Terms
from clinsim.agents.judges.matching import forms, match_name
from clinsim.agents.judges.terminology import BAG_FILLER, Concept, Terminology, bag, plain_names
from clinsim.environments.events import GRADES, ConceptRef, Grade, MatchEvidence

CORRECT: frozenset[Grade] = frozenset({"exact", "synonym", "more_specific"})
CATCH_ALL_INCLUSIONS = 4
MAX_EXTRA_WORDS = 8
CAUSE = re.compile(
    r"\b(?:due\s+to|secondary\s+to|caused\s+by|because\s+of|from|after|following)\s|"
    r"\w[-\s](?:induced|related|associated|mediated|triggered|provoked)\b",
    re.I,
)
"""A cause named in the answer: the words it adds specialise ('X due to Y', 'Y-related X')."""
LISTING = re.compile(r"\s(?:and|plus|&)\s|[,;+]", re.I)
"""Names listed together ('X with Y and Z'): an added word may be another condition."""
GENERIC_EXTRA = frozenset({"infection", "condition", "vitamin"})
"""Words whose presence alone does not make a name more specific ('Listeria infection')."""


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
        for ma, mr in product(self.mapper.map(answer), self.mapper.map(reference)):
            found = self._compare(ma, mr)
            if found is None:
                continue
            grade, how = found
            if clash:
                grade, how = "related", f"{how}, but {clash}"
            elif grade in ("more_specific", "less_specific") and self._changes_entity(
                answer, reference
            ):
                grade, how = "related", f"{how}, but the extra words change the entity"
            best = better(best, Graded(grade, how, answer, reference, ma.concept, mr.concept))
        return best

    def _relation(self, a: str, r: str, a_nos: bool = False, r_nos: bool = False) -> str | None:
        term = self.terminology
        a, r = self._effective(a, a_nos), self._effective(r, r_nos)
        if a == r:
            return "same"
        if term.is_ancestor(r, a):
            return "block" if self._loose_path(a, r) else "narrower"
        if term.is_ancestor(a, r):
            return "block" if self._loose_path(r, a) else "broader"
        block = term.block(a)
        return "block" if block is not None and block == term.block(r) else None

    def _loose_path(self, code: str, ancestor: str) -> bool:
        """Whether `code` sits under `ancestor` only as a coding default or in a catch-all: it
        is, or is below, an 'unspecified' or 'Other ...' code, and its name does not contain
        the ancestor's ('Schizophreniform disorder' is filed under 'Other schizophrenia' but
        is not a kind of schizophrenia; 'Lobar pneumonia, unspecified organism' is a
        pneumonia)."""
        path = [code, *self.terminology.ancestors(code)]
        between = path[: path.index(ancestor)] if ancestor in path else path
        if not any(self._unspecified(c) or self._other(c) for c in between):
            return False
        return not set(self._title_bag(ancestor).split()) <= set(self._title_bag(code).split())

    def _other(self, code: str) -> bool:
        title = self.terminology.titles.get(code, "").lower()
        return title.startswith("other") or " other " in title

    def _unspecified(self, code: str) -> bool:
        return "unspecified" in self.terminology.titles.get(code, "").lower()

    def _title_bag(self, code: str) -> str:
        names = plain_names(self.terminology.titles.get(code, ""))
        return bag(self.lexicon.canon(names[0])) if names else ""

    def _effective(self, code: str, nos: bool = False) -> str:
        """An 'X, unspecified' code stands for its parent X; so does an 'Other X' code for an
        'NOS' name ('Silicosis NOS' sits in J62.8 'Pneumoconiosis due to other dust containing
        silica'): up while the title, 'other' and 'unspecified' aside, is the parent's."""
        parent = self.terminology.parents.get(code, "")
        while parent and "-" not in parent:
            if not (self._unspecified(code) or (nos and self._other(code))):
                break
            if self._title_bag(code) != self._title_bag(parent):
                break
            code, parent = parent, self.terminology.parents.get(parent, "")
        return code

    def _term_words(self, term: str) -> set[str]:
        names = plain_names(term)
        return {w for w in self.lexicon.canon(names[0]) if w not in BAG_FILLER} if names else set()

    def _catch_all(self, code: str) -> bool:
        many = self.terminology.inclusions.get(code, 0) > CATCH_ALL_INCLUSIONS
        return many or self._other(code)

    def _compare(self, ma: Mapping, mr: Mapping) -> tuple[Grade, str] | None:
        a, r = ma.concept, mr.concept
        names = f"{self.terminology.describe(a.code)} / {self.terminology.describe(r.code)}"
        if ma.full and mr.full:
            found = self._compare_full(a, r)
            return None if found is None else (found[0], f"{found[1]}: {names}")
        relation = self._relation(a.code, r.code)
        if a.term != r.term and not (self._whole(a) and self._whole(r)):
            # 'eosinophilic pneumonia NOS' sits in J82.81 'Chronic eosinophilic pneumonia':
            # words added to an NOS name or a catch-all entry do not narrow the code
            return ("related", f"related concepts: {names}") if relation else None
        generic = self.lexicon.generic_suffixes | GENERIC_EXTRA
        extra = set(ma.residual) - set(mr.residual) - generic
        missing = set(mr.residual) - set(ma.residual) - generic
        if relation in ("same", "narrower") and not missing:
            if not extra and relation == "same":
                return "synonym", f"same concept, same extra words: {names}"
            if self._specialises(extra):
                return "more_specific", f"narrower ({' '.join(sorted(extra))}): {names}"
        if relation in ("same", "broader") and not extra and self._specialises(missing):
            return "less_specific", f"broader (lacks {' '.join(sorted(missing))}): {names}"
        return ("related", f"related concepts: {names}") if relation else None

    def _whole(self, concept: Concept) -> bool:
        """The name stands for its whole code: a title, or an inclusion term of a code that
        lists other names rather than kinds."""
        if concept.kind == "title":
            return True
        return concept.kind == "inclusion" and not self._catch_all(concept.code)

    def _compare_full(self, a: Concept, r: Concept) -> tuple[Grade, str] | None:
        relation = self._relation(a.code, r.code, a.kind == "nos", r.kind == "nos")
        if relation == "narrower" and self._whole(r):
            return "more_specific", "narrower concept"
        if relation == "broader" and self._whole(a):
            return "less_specific", "broader concept"
        if relation != "same":
            return None if relation is None else ("related", f"{relation} concept")
        if a.term == r.term:
            return "synonym", "same concept"
        if "nos" in (a.kind, r.kind):
            words_a, words_r = self._term_words(a.term), self._term_words(r.term)
            if words_r < words_a:
                return "more_specific", "'NOS' name of a broader reading"
            if words_a < words_r:
                return "less_specific", "'NOS' name of a broader reading"
            if a.kind == r.kind or a.code != r.code:
                return "synonym", "same concept ('NOS' name)"
            return ("less_specific" if a.kind == "nos" else "more_specific"), "'NOS' name"
        if a.code == r.code and self._catch_all(a.code):
            if a.kind == r.kind:
                return "related", "two entries of one catch-all code"
            grade: Grade = "more_specific" if r.kind == "title" else "less_specific"
            return grade, "entry of a catch-all code"
        return "synonym", "same concept"

    # ------------------------------------------------------------ 3. containment

    def _specialises(
        self, extra: set[str], longer: Terms | None = None, shorter: set[str] | None = None
    ) -> bool:
        """Whether extra words narrow a name rather than change the entity. A negation
        ('non', 'pseudo') changes it when it negates a word of the shorter name ('Non-Hodgkin
        lymphoma'), or when the word order is unknown; not when it negates an extra word
        ('febrile non-hemolytic transfusion reaction')."""
        lex = self.lexicon
        if not extra or extra & lex.not_specialising:
            return False
        if not extra & lex.negating:
            return True
        if longer is None or shorter is None:
            return False
        for word, following in zip(longer, (*longer[1:], ""), strict=True):
            if word in lex.negating and (not following or following in shorter):
                return False
        return True

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
                if m.full and m.concept.kind != "nos":
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
        if not self._specialises(extra, longer, shorter) or self._coded_apart(answer, reference):
            return None
        longer_name, shorter_name = (
            (answer, reference) if grade == "more_specific" else (reference, answer)
        )
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
        """Both names fully coded, and in no common block: different entities."""
        full_a = [m for m in self.mapper.map(answer) if m.full]
        full_r = [m for m in self.mapper.map(reference) if m.full]
        if not full_a or not full_r:
            return False
        return all(
            self._relation(ma.concept.code, mr.concept.code) is None
            for ma, mr in product(full_a, full_r)
        )
