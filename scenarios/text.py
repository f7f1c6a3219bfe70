"""Text normalisation shared by the scenario audit and the rules judge.

`words` folds a text to plain lower-case word tokens: accents removed ("Calvé" -> "calve"),
possessives dropped ("Crohn's" -> "crohn"), punctuation and hyphens turned into spaces.
`terms` goes one step further for comparing clinical names: simple plural stemming
("nodules" -> "nodule") and the filler words "the", "of" and "an" removed, so that
"Carcinoma of the thyroid" and "thyroid carcinomas" share the terms {carcinoma, thyroid}.
`contains_phrase` tests whole-phrase containment on those terms: "mi" is not found inside
"mild", and "hepatitis b" is not found inside "hepatitis b-like".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from pydantic import JsonValue

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_POSSESSIVE = re.compile(r"(?<=\w)'s\b")
_PARENTHESES = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
FILLER = frozenset({"the", "of", "an"})
_KEEP_FINAL_S = ("ss", "us", "is")


def fold(text: str) -> str:
    """Lower-case, accents stripped, typographic quotes made plain."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.lower()


def words(text: str) -> list[str]:
    """Plain word tokens of `text` (see the module docstring)."""
    folded = _POSSESSIVE.sub("", fold(text)).replace("'", "")
    return [w for w in _NON_WORD.split(folded) if w]


def singular(word: str) -> str:
    """A light plural stemmer: 'nodules' -> 'nodule', 'bodies' -> 'body', 'keratoses' ->
    'keratosis'; keeps 'sepsis',
    'lupus', 'herpes'-like forms stable (both sides of a comparison go through it)."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(_KEEP_FINAL_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("oses") and len(word) > 5:
        return word[:-2] + "is"
    return word[:-1]


def terms(text: str) -> tuple[str, ...]:
    """Comparable terms of a clinical name: words, singular, filler words removed."""
    out = [singular(w) for w in words(text) if w not in FILLER]
    if len(out) > 1 and out[0] == "a":
        out = out[1:]
    return tuple(out)


def split_parentheses(text: str) -> tuple[str, list[str]]:
    """'Chronic lymphocytic leukemia (CLL)' -> ('Chronic lymphocytic leukemia', ['CLL']).
    Only a parenthesis that ends the name is an alias of the whole name; one in the middle
    ('triple phosphate (struvite) crystals') is dropped from the name and not returned."""
    stripped = text.strip()
    last = list(_PARENTHESES.finditer(stripped))
    aliases = []
    if last and last[-1].end() == len(stripped):
        alias = (last[-1].group(1) or last[-1].group(2) or "").strip()
        aliases = [alias] if _is_alias(alias) else []
    outer = " ".join(_PARENTHESES.sub(" ", stripped).split())
    return outer, aliases


def _is_alias(text: str) -> bool:
    """An abbreviation ('BPPV', 'CLL') or a name of two or more words; a single lower-case
    qualifier ('postprocedural', 'congestive') is not another name of the diagnosis."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    return (upper >= 0.6 and len(text) <= 8) or len(words(text)) >= 2


def contains_phrase(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """True when `needle` occurs in `haystack` as a run of whole terms."""
    size = len(needle)
    if size == 0 or size > len(haystack):
        return False
    first = needle[0]
    for start in range(len(haystack) - size + 1):
        if haystack[start] == first and tuple(haystack[start : start + size]) == tuple(needle):
            return True
    return False


def iter_text(value: JsonValue, path: str, keys: bool = False) -> Iterator[tuple[str, str]]:
    """Every piece of text in a free-form value, with its field path
    ('case.tests.Blood_Tests.TSH'). With `keys`, dict keys are yielded too (path ends '#key')."""
    if value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if keys:
                yield f"{sub}#key", str(key).replace("_", " ")
            yield from iter_text(item, sub, keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_text(item, f"{path}[{index}]", keys)
    else:
        yield path, str(value)


_QUALIFIERS = "acute chronic subacute primary secondary severe mild early late recurrent"
_QUALIFIER_WORDS = frozenset(f"{_QUALIFIERS} idiopathic bilateral left right".split(" "))


class NameMatcher:
    """Finds any of several clinical names in a text as whole phrases (after `terms`):
    each name, the name without a trailing parenthesised alias, and the alias itself
    ("Chronic lymphocytic leukemia (CLL)" -> both). With `strip_qualifiers`, also the name
    without leading qualifiers ("Acute myocardial infarction" -> "myocardial infarction").
    One-word names of two letters ("PE", "DR") are ignored: they collide with ordinary words."""

    def __init__(self, names: Iterable[str], strip_qualifiers: bool = False):
        needles: list[tuple[str, ...]] = []
        for name in names:
            outer, aliases = split_parentheses(name)
            for variant in (name, outer, *aliases):
                needle = terms(variant)
                while strip_qualifiers and len(needle) > 1 and needle[0] in _QUALIFIER_WORDS:
                    needle = needle[1:]
                    self._add(needles, needle)
                self._add(needles, terms(variant))
        self.needles = needles

    @staticmethod
    def _add(needles: list[tuple[str, ...]], needle: tuple[str, ...]) -> None:
        if needle and (len(needle) > 1 or len(needle[0]) > 2) and needle not in needles:
            needles.append(needle)

    def __bool__(self) -> bool:
        return bool(self.needles)

    def found_in(self, text: str) -> bool:
        haystack = terms(text)
        return any(contains_phrase(haystack, needle) for needle in self.needles)
