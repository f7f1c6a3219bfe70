"""How two ICD-10-CM concepts relate, once each name is mapped to its codes (`concepts`): the
same concept, a narrower or broader one (through the code hierarchy, read with the coding
defaults: an 'X, unspecified' code stands for X, and a catch-all 'Other X' code holds kinds of
X only where its entries repeat X's name), a member of a code that lists several conditions,
or a code of the same block. `grading` turns the relation into a grade.
"""

from __future__ import annotations

from clinsim.agents.judges.concepts import Mapping
from clinsim.agents.judges.lexicon import Lexicon, Terms
from clinsim.agents.judges.terminology import (
    BAG_FILLER,
    Concept,
    Terminology,
    bag,
    negated,
    plain_names,
)
from clinsim.environments.events import Grade

CATCH_ALL_INCLUSIONS = 4
GENERIC_EXTRA = frozenset({"infection", "condition", "vitamin"})
"""Words whose presence alone does not make a name more specific ('Listeria infection')."""


class CodeComparer:
    def __init__(self, lexicon: Lexicon, terminology: Terminology):
        self.lexicon = lexicon
        self.terminology = terminology

    def relation(self, a: str, r: str, a_nos: bool = False, r_nos: bool = False) -> str | None:
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
        return self.terminology.is_catch_all_title(code)

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

    def compare(self, ma: Mapping, mr: Mapping) -> tuple[Grade, str] | None:
        a, r = ma.concept, mr.concept
        names = f"{self.terminology.describe(a.code)} / {self.terminology.describe(r.code)}"
        if ma.full and mr.full:
            found = self._compare_full(a, r)
            return None if found is None else (found[0], f"{found[1]}: {names}")
        relation = self.relation(a.code, r.code)
        if a.term != r.term and not self._stands_for_code(a, r, relation):
            # 'eosinophilic pneumonia NOS' sits in J82.81 'Chronic eosinophilic pneumonia':
            # words added to an NOS name or a catch-all entry do not narrow the code
            return ("related", f"related concepts: {names}") if relation else None
        generic = self.lexicon.generic_suffixes | GENERIC_EXTRA
        extra = set(ma.residual) - set(mr.residual) - generic
        missing = set(mr.residual) - set(ma.residual) - generic
        if relation in ("same", "narrower") and not missing:
            if not extra and relation == "same":
                return "synonym", f"same concept, same extra words: {names}"
            if self.specialises(extra):
                return "more_specific", f"narrower ({' '.join(sorted(extra))}): {names}"
        if relation in ("same", "broader") and not extra and self.specialises(missing):
            return "less_specific", f"broader (lacks {' '.join(sorted(missing))}): {names}"
        return ("related", f"related concepts: {names}") if relation else None

    def _members(self, a: Concept, r: Concept) -> tuple[Grade, str]:
        """Names of one code that lists several conditions ('Syringomyelia and syringobulbia'):
        each member is a kind of the whole listing, two members are different conditions, and
        another name of the code is a name of the member unless it names another member ('Lung
        cancer NOS' is the lung member of 'Malignant neoplasm of bronchus and lung')."""
        if a.kind == "member" and r.kind == "title":
            return "more_specific", "one member of the listing the reference names"
        if r.kind == "member" and a.kind == "title":
            return "less_specific", "the whole listing, of which the reference is one member"
        if "member" in (a.kind, r.kind) and a.kind != r.kind:
            member, other = (a, r) if a.kind == "member" else (r, a)
            listing = self._term_words(member.title)
            others = listing - self._term_words(member.term)
            if self._term_words(member.term) <= listing and not others & self._term_words(
                other.term
            ):
                return "synonym", "same concept (a name of the listed member)"
        return "related", "two members of one code that lists several conditions"

    def _whole_or_named(self, broad: Concept, narrow: Concept) -> bool:
        """Whether `broad` stands for its whole code, or is a member whose name the narrower
        code's name repeats ('Malignant neoplasm of lung', member of C34, and C34.1's 'upper
        lobe, bronchus or lung')."""
        if broad.kind != "member":
            return self._whole(broad)
        names = plain_names(narrow.term)
        denied = negated(self.lexicon.canon(names[0])) if names else frozenset()
        return self._term_words(broad.term) <= self._term_words(narrow.term) - denied

    def _stands_for_code(self, a: Concept, r: Concept, relation: str | None) -> bool:
        """Whether the codes of two names decide how they relate: the broader name must stand
        for its whole code; the narrower one may be any entry of a narrower code but an 'NOS'
        name, which is filed in the code it defaults to ('Hepatitis B NOS' in acute hepatitis
        B)."""
        if relation == "narrower":
            return self._whole(r) and a.kind != "nos"
        if relation == "broader":
            return self._whole(a) and r.kind != "nos"
        return self._whole(a) and self._whole(r)

    def _whole(self, concept: Concept) -> bool:
        """The name stands for its whole code: a title, an inclusion term of a code that lists
        other names rather than kinds, or an 'NOS' name filed in an 'X, unspecified' code that
        stands for X ('Escherichia coli NOS' in B96.20 'Unspecified Escherichia coli')."""
        if concept.kind == "title":
            return True
        if concept.kind == "nos":
            return self._unspecified(concept.code) and self._effective(concept.code) != concept.code
        return concept.kind == "inclusion" and not self._catch_all(concept.code)

    def _compare_full(self, a: Concept, r: Concept) -> tuple[Grade, str] | None:
        relation = self.relation(a.code, r.code, a.kind == "nos", r.kind == "nos")
        if relation == "narrower" and self._whole_or_named(r, a):
            return "more_specific", "narrower concept"
        if relation == "broader" and self._whole_or_named(a, r):
            return "less_specific", "broader concept"
        if relation != "same":
            return None if relation is None else ("related", f"{relation} concept")
        if a.term == r.term:
            return "synonym", "same concept"
        if "member" in (a.kind, r.kind):
            return self._members(a, r)
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

    def specialises(
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
