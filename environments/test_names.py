"""Canonical forms of test and examination names, so that `Chest_X-Ray`, "chest x-ray", "CXR"
and "chest radiograph" all read the same.

`canonical_tokens(name)` lower-cases, splits on anything that is not a letter or digit,
singularises, rewrites known abbreviations and synonyms to one canonical spelling (whole
phrase, longest first) and drops filler words ("test", "results", "please", ...). Measurement
lookup and the price table both use it, so a price pattern written as "CBC" also prices
"complete blood count".

The word lists live in `data/test_names.json`:
- `aliases`: canonical spelling -> variants ("cbc": ["complete blood count", ...]);
- `panels`: what a panel order covers, for scenarios that hold the members (MIMIC-style flat
  lab names) without the panel itself;
- `related`: names that answer an order when the ordered name is missing (BMP -> electrolytes);
- `filler`: words dropped from names;
- `specimen_words`: words of a group holding another specimen than blood; a blood-test name
  inside such a group (`Urinalysis > WBC`) answers only with the group named ("urine WBC");
- `test_words`: words that name a test of their own; a less or more specific order does not
  match a name that differs from it by one of them ("glucose" is not `Urinalysis > Glucose`,
  while "CT" still finds `Chest_CT`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any


def _load() -> dict[str, Any]:
    text = resources.files("clinsim.environments").joinpath("data", "test_names.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


_DATA = _load()
ALIASES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["aliases"].items()}
PANELS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["panels"].items()}
RELATED: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["related"].items()}
FILLER = frozenset(_DATA["filler"])
SPECIMEN_WORDS = frozenset(_DATA["specimen_words"])
TEST_WORDS = frozenset(_DATA["test_words"])

_WORD = re.compile(r"[a-z0-9]+")
_KEEP_S = ("ss", "us", "is", "ys", "os", "as")


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def plain_words(text: str) -> list[str]:
    """Lower-case words of `text` with accents removed and simple plurals singularised."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("'s", "").replace("\u2019s", "")
    return [_singular(w) for w in _WORD.findall(text)]


def _alias_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    lookup: dict[str, str] = {}
    for canonical, variants in ALIASES.items():
        for variant in variants:
            lookup.setdefault(" ".join(plain_words(variant)), canonical)
    phrases = sorted(lookup, key=lambda p: (-len(p), p))
    alternatives = "|".join(map(re.escape, phrases))
    return re.compile(r"(?<![a-z0-9])(?:" + alternatives + r")(?![a-z0-9])"), lookup


_ALIAS_RE, _ALIAS_LOOKUP = _alias_pattern()


@lru_cache(maxsize=8192)
def canonical_tokens(name: str) -> tuple[str, ...]:
    """The canonical words of a test or examination name (see the module docstring)."""
    text = " ".join(plain_words(name))
    text = _ALIAS_RE.sub(lambda m: _ALIAS_LOOKUP[m.group(0)], text)
    kept = (w for w in text.split() if w not in FILLER)
    return tuple(dict.fromkeys(kept))  # "Alanine Aminotransferase (ALT)" -> ("alt",)


def canonical_name(name: str) -> str:
    return " ".join(canonical_tokens(name))
