"""Deterministic matching of a diagnosis name against the accepted names of an answer key.

Each name is expanded into *forms*: its main text, any parenthesised alias
("Chronic lymphocytic leukemia (CLL)"), and abbreviation expansions (the whole name, "MI", or an
upper-case abbreviation inside it, "Acute MI"). Two forms are compared in order of strictness:

1. exact after normalisation (case, accents, punctuation, plurals, spelling variants);
2. the same letters apart from spacing or hyphens ("post-traumatic" / "posttraumatic");
3. the same words in a different order, unless the order carries meaning ("left to right");
4. listed together in the synonym table;
5. equal once droppable qualifiers ("acute", "active", "infection") and a trailing generic
   noun ("disease", "syndrome", "disorder") are removed, where the vocabulary says it is safe;
6. synonyms once those qualifiers are removed ("acute heart attack" / "myocardial infarction");
7. the answer contains the whole reference and every extra word is a qualifier
   ("right lower lobe pneumonia" for "pneumonia"; not "diabetes insipidus" for "diabetes").

Levels 3 and 5 to 7 are refused when the two names carry contradicting words (acute/chronic,
left/right, benign/malignant, ...). Numbers and single letters are never qualifiers, so
"Type 1 diabetes" never matches "Type 2 diabetes" and "Hepatitis A" never matches "Hepatitis B".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinsim.agents.judges.lexicon import Lexicon, Terms
from clinsim.agents.judges.terminology import negated
from clinsim.scenarios.text import split_parentheses, words

_PREAMBLE = re.compile(
    r"^\s*(?:(?:final|most\s+likely|working|primary)\s+)?diagnosis\s*(?:is\s*)?[:\-]\s*", re.I
)
_INLINE_ABBREVIATION = re.compile(r"\b[A-Z][A-Z0-9]{1,6}\b")


@dataclass(frozen=True)
class Form:
    text: str
    terms: Terms
    note: str = ""


@dataclass(frozen=True)
class NameMatch:
    level: int
    reason: str
    candidate: str
    reference: str


def clean(name: str) -> str:
    """Strip a 'Diagnosis:' preamble and trailing punctuation."""
    return _PREAMBLE.sub("", name).strip().rstrip(".;,").strip()


def forms(name: str, lex: Lexicon) -> list[Form]:
    outer, inner = split_parentheses(clean(name))
    found = [Form(outer, lex.canon(outer))]
    found += [Form(alias, lex.canon(alias), f"alias '{alias}'") for alias in inner]
    for text in [outer, *inner]:
        whole = "".join(words(text)).upper()
        for expansion in lex.expansions(whole) if len(whole) <= 7 else []:
            note = f"abbreviation {whole} = {expansion}"
            found.append(Form(expansion, lex.canon(expansion), note))
        for hit in _INLINE_ABBREVIATION.finditer(text):
            if hit.group() == whole:
                continue
            for expansion in lex.expansions(hit.group()):
                expanded = text[: hit.start()] + expansion + text[hit.end() :]
                note = f"abbreviation {hit.group()} = {expansion}"
                found.append(Form(expanded, lex.canon(expanded), note))
    unique: dict[Terms, Form] = {}
    for form in found:
        if form.terms:
            unique.setdefault(form.terms, form)
    return list(unique.values())


def _quoted(words_: list[str] | Terms) -> str:
    return "'" + " ".join(words_) + "'"


def _contained(answer: Terms, reference: Terms, lex: Lexicon) -> list[str] | None:
    """Extra words of `answer` around a whole occurrence of `reference`, if all qualifiers."""
    size = len(reference)
    allowed = lex.qualifiers
    if lex.integral(answer):  # 'acute' makes 'acute respiratory distress syndrome' another entity
        allowed = allowed - lex.droppable
    for start in range(len(answer) - size + 1):
        if answer[start : start + size] == reference:
            extra = [*answer[:start], *answer[start + size :]]
            if extra and all(w in allowed for w in extra):
                return extra
    return None


def compare(answer: Form, reference: Form, lex: Lexicon) -> tuple[int, str] | None:
    """How `answer` matches `reference` (level, reason), or None."""
    a, b = answer.terms, reference.terms
    if a == b:
        return 1, "exact after normalisation"
    if "".join(a) == "".join(b):
        return 2, "same words apart from spacing or hyphens"
    clash = lex.conflict(a, b)
    same_negation = negated(a) == negated(b)
    if clash is None and sorted(a) == sorted(b) and lex.reorder_safe(a) and same_negation:
        return 3, "same words in a different order"
    direct_a, direct_b = lex.groups.get(a), lex.groups.get(b)
    if direct_a is not None and direct_a == direct_b:
        return 4, f"synonym ({_quoted(a)} = {_quoted(b)})"
    if clash is not None:
        return None
    core_a, dropped_a = lex.core(a)
    core_b, dropped_b = lex.core(b)
    same_core = core_a == core_b or (
        sorted(core_a) == sorted(core_b) and lex.reorder_safe(core_a) and same_negation
    )
    if same_core:
        dropped = sorted(set(dropped_a) ^ set(dropped_b)) or sorted(set(dropped_a + dropped_b))
        return 5, f"equal apart from {_quoted(dropped)}"
    group_a, group_b = lex.group(a), lex.group(b)
    if group_a is not None and group_a == group_b:
        return 6, f"synonym ({_quoted(a)} = {_quoted(b)}, qualifiers aside)"
    extra = _contained(a, core_b, lex)
    if extra is not None:
        return 7, f"answer adds qualifier(s) {_quoted(extra)} to the reference"
    return None


def match_name(candidate: str, references: list[str], lex: Lexicon) -> NameMatch | None:
    """The strictest way `candidate` matches any of `references`, or None."""
    best: NameMatch | None = None
    candidate_forms = forms(candidate, lex)
    for reference in references:
        for ref_form in forms(reference, lex):
            for cand_form in candidate_forms:
                found = compare(cand_form, ref_form, lex)
                if found is None or (best is not None and found[0] >= best.level):
                    continue
                notes = [n for n in (cand_form.note, ref_form.note) if n]
                reason = "; ".join([*notes, found[1]])
                best = NameMatch(found[0], reason, candidate, reference)
    return best


def contradiction(candidate: str, reference: str, lex: Lexicon) -> str | None:
    """Why two names that agree once contradicting words are set aside still differ
    ('acute vs chronic', 'left vs right')."""
    contrasted = set().union(*lex.exclusive) if lex.exclusive else set()
    for cand_form in forms(candidate, lex):
        for ref_form in forms(reference, lex):
            clash = lex.conflict(cand_form.terms, ref_form.terms)
            rest_a = [w for w in lex.core(cand_form.terms)[0] if w not in contrasted]
            rest_b = [w for w in lex.core(ref_form.terms)[0] if w not in contrasted]
            if clash and rest_a == rest_b:
                return clash
    return None
