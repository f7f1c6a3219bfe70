"""From a diagnosis name to terminology concepts.

A name maps *fully* to a concept when its whole bag of canonical terms is a name the terminology
knows, directly or through an index-like variant: a parenthesised alias or an abbreviation
expansion (`matching.forms`), a name of the same synonym group in the override vocabulary,
without a trailing generic noun ("Wilson disease" / "Wilson's"), or with a word rewritten the
way the tabular list writes it ("thyroid cancer" / "malignant neoplasm of thyroid gland").

A name the terminology does not know maps *partially*: to the largest part of it that it does
know, with the remaining words kept as the residual ("community acquired pneumonia" -> J18
pneumonia, residual community acquired). Residuals decide specificity in `grading`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

from rapidfuzz.distance import Levenshtein

from clinsim.agents.judges.lexicon import Lexicon, Terms
from clinsim.agents.judges.matching import forms
from clinsim.agents.judges.terminology import BAG_FILLER, NEGATED, Concept, Terminology, bag

MAX_PARTIAL_WORDS = 8
_WORD = re.compile(r"[A-Za-z]{8,}")


@dataclass(frozen=True)
class Mapping:
    concept: Concept
    residual: Terms = ()
    via: str = ""
    named_by: str = ""
    """The code whose own title the name is, when this concept is only another code's reading of
    the same words (see `ConceptMapper.mark_named`); empty otherwise."""

    @property
    def full(self) -> bool:
        return not self.residual


class ConceptMapper:
    """Maps names to concepts; results are cached per name."""

    def __init__(self, lexicon: Lexicon, terminology: Terminology):
        self.lexicon = lexicon
        self.terminology = terminology
        self.map = lru_cache(maxsize=65536)(self._map)
        self._vocabulary: frozenset[str] | None = None

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every word of an indexed name."""
        if self._vocabulary is None:
            index = self.terminology.index
            self._vocabulary = frozenset(w.lstrip(NEGATED) for key in index for w in key.split())
        return self._vocabulary

    def joined(self, name: Terms) -> list[Terms]:
        """The name with two neighbouring words written as the one word the index knows
        ('chicken pox' -> 'chickenpox', 'angio oedema' -> 'angioedema')."""
        out = []
        for i in range(len(name) - 1):
            word = name[i] + name[i + 1]
            if name[i + 1] not in BAG_FILLER and word in self.vocabulary:
                out.append((*name[:i], word, *name[i + 2 :]))
        return out

    def _variants(self, name: Terms) -> list[tuple[Terms, str]]:
        lex = self.lexicon
        out: list[tuple[Terms, str]] = [(name, "")]
        out += [(j, f"written '{' '.join(j)}'") for j in self.joined(name)]
        out += [(s, f"synonym '{' '.join(s)}'") for s in lex.synonyms_of(name)]
        for words, how in list(out):
            core, dropped = lex.core(words)
            if dropped and core != words and all(w in lex.generic_suffixes for w in dropped):
                out.append((core, how or f"without '{' '.join(dropped)}'"))
                out += [
                    ((*core, other), how or f"'{other}' for '{dropped[0]}'")
                    for other in sorted(lex.generic_suffixes - set(dropped))
                ]
            elif words and words[-1] not in lex.generic_suffixes:
                out += [((*words, g), how or f"with '{g}'") for g in sorted(lex.generic_suffixes)]
        for words, how in list(out):
            out += [(w, how or "rewritten") for w in self._rewritten(words)[1:]]
        return out

    def _rewritten(self, words: Terms) -> list[Terms]:
        """The words, and the words as the tabular list writes them ('cancer' -> 'malignant
        neoplasm')."""
        rewritten: list[str] = []
        for word in words:
            rewritten.extend(self.lexicon.rewrites.get(word, (word,)))
        return [words] if tuple(rewritten) == words else [words, tuple(rewritten)]

    def _full(self, name: Terms, note: str, phenotypes: bool = False) -> list[Mapping]:
        """Concepts of the first variant the terminology knows (the name itself first); with
        `phenotypes`, of the names the phenotype ontology added instead."""
        for words, how in self._variants(name):
            found = self.terminology.lookup(bag(words), phenotypes)
            if found:
                via = "; ".join(x for x in (note, how, "HPO" if phenotypes else "") if x)
                return self.mark_named([Mapping(concept, (), via) for concept in found])
        return []

    def mark_named(self, found: list[Mapping]) -> list[Mapping]:
        """A name that is the title of a code names that code's condition. The same words found
        as an inclusion term, a member or an 'NOS' term of another code ('aortic stenosis', the
        title of I35.0, reads as Q25.1's inclusion term 'Stenosis of aorta') are that other
        code's reading of them, not another name of its title: marked with the naming code.
        Titles of catch-all codes ('Other hypertension') name nothing of their own."""
        term = self.terminology
        titles = [
            m.concept.code
            for m in found
            if m.concept.kind == "title" and not term.is_catch_all_title(m.concept.code)
        ]
        if not titles:
            return found
        out = []
        for m in found:
            code = m.concept.code
            if m.concept.kind != "title" and not any(
                t == code or term.is_ancestor(t, code) or term.is_ancestor(code, t) for t in titles
            ):
                m = Mapping(m.concept, m.residual, m.via, titles[0])
            out.append(m)
        return out

    def _partial(self, name: Terms) -> list[Mapping]:
        """The largest known sub-bag of `name` (at least one word that is neither generic nor
        a qualifier), the rest as residual."""
        words = [w for w in dict.fromkeys(name) if w not in BAG_FILLER][:MAX_PARTIAL_WORDS]
        weak = self.lexicon.qualifiers | self.lexicon.generic_suffixes
        for size in range(len(words) - 1, 0, -1):
            found: list[Mapping] = []
            for part in combinations(words, size):
                if all(w in weak for w in part):
                    continue
                residual = tuple(w for w in words if w not in part)
                for variant in self._rewritten(part):
                    for concept in self.terminology.lookup(bag(variant)):
                        found.append(Mapping(concept, residual, "part of the name"))
            if found:
                return found
        return []

    def _map(self, name: str) -> tuple[Mapping, ...]:
        full: list[Mapping] = []
        for form in forms(name, self.lexicon):
            full += self._full(form.terms, form.note)
        if full:
            return tuple(full)
        main = forms(name, self.lexicon)
        partial = self._partial(main[0].terms) if main else []
        # names the tabular list lacks: the phenotype ontology's concept, with the tabular
        # list's reading of part of the name beside it (its relations to other codes stay)
        for form in forms(name, self.lexicon):
            full += self._full(form.terms, form.note, phenotypes=True)
        return tuple(full + partial)


class Speller:
    """Corrects misspelt words ('Heliobacter'): a word of eight letters or more that neither
    the terminology nor the vocabulary knows, one edit inside the word (its first three and
    last two letters kept: 'acalculous' is not 'calculous') away from exactly one word they
    know. Two real words one edit apart ('arteritis'/'arthritis') are never touched."""

    MIN_LENGTH = 8

    def __init__(self, lexicon: Lexicon, terminology: Terminology):
        self.lexicon = lexicon
        known = {w.lstrip(NEGATED) for key in terminology.index for w in key.split()}
        known |= {w for names in lexicon.members for name in names for w in name}
        known |= {
            w for names in lexicon.abbreviations.values() for n in names for w in lexicon.canon(n)
        }
        self.known = known
        self.by_length: dict[int, list[str]] = {}
        for word in known:
            self.by_length.setdefault(len(word), []).append(word)
        self.correct = lru_cache(maxsize=16384)(self._correct)

    def _fix(self, word: str) -> str | None:
        folded = self.lexicon.canon(word)
        if len(folded) != 1 or len(folded[0]) < self.MIN_LENGTH or folded[0] in self.known:
            return None
        target = folded[0]
        near = {
            w
            for size in (len(target) - 1, len(target), len(target) + 1)
            for w in self.by_length.get(size, [])
            if w[:3] == target[:3]
            and w[-2:] == target[-2:]
            and Levenshtein.distance(target, w, score_cutoff=1) <= 1
        }
        return near.pop() if len(near) == 1 else None

    def _correct(self, text: str) -> str:
        return _WORD.sub(lambda m: self._fix(m.group()) or m.group(), text)
