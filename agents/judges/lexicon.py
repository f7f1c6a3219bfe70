"""The rules judge's vocabulary: abbreviations, synonym groups, spelling variants and the word
lists that decide which differences between two names are harmless.

It is read from `clinsim/agents/data/judge_synonyms.json` (format in judge_synonyms.md) or
from any file of the same shape, and turns names into canonical term tuples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from clinsim.scenarios.text import terms, words

Terms = tuple[str, ...]
_DIGRAPH = re.compile(r"(?<=\w)(ae|(?<!i)oe)(?=\w)")
"""British ae/oe inside a word ('haemorrhage', 'coeliac'); not the 'o' that ends a combining form
before 'edema' ('angioedema' is American already; 'angio-oedema' folds to it)."""
_ISE = re.compile(r"(?<=\w{3})is(ed|ing|ation)$")
_FOLDS = [
    (re.compile(r"^oe(?=[b-df-hj-np-tv-z])"), "e"),  # oesophagitis, oedema, oestrogen
    (re.compile(r"^aet"), "et"),  # aetiology
    (re.compile(r"(?<=\w{3})our$"), "or"),  # tumour, labour, humour
    (re.compile(r"(?<=\w{3})ae$"), "a"),  # Latin plurals: vertebrae, bullae, fistulae
    (re.compile(r"(?<=\w)omata$"), "oma"),  # condylomata, carcinomata
    (re.compile(r"(?<=\w{2})ices$"), "ix"),  # varices, cervices
    (re.compile(r"(cc|ll|mb|cul|bol|nev|fung|nucle|foc|vill)i$"), r"\1us"),  # calculi, emboli
]
DEFAULT_FILE = "judge_synonyms.json"


class LexiconError(ValueError):
    """A vocabulary file that cannot be used; the message names the file and the field."""


def _spelling(word: str) -> str:
    """British spellings and Latin plurals folded to one form, anywhere in the word."""
    word = _ISE.sub(r"iz\1", _DIGRAPH.sub("e", word))
    for pattern, replacement in _FOLDS:
        word = pattern.sub(replacement, word)
    return word


@dataclass
class Lexicon:
    abbreviations: dict[str, list[str]] = field(default_factory=dict)
    synonyms: list[list[str]] = field(default_factory=list)
    spelling: dict[str, Terms] = field(default_factory=dict)
    generic_suffixes: frozenset[str] = frozenset()
    suffix_required: list[Terms] = field(default_factory=list)
    droppable: frozenset[str] = frozenset()
    droppable_integral: list[Terms] = field(default_factory=list)
    qualifiers: frozenset[str] = frozenset()
    order_sensitive: frozenset[str] = frozenset()
    exclusive: list[frozenset[str]] = field(default_factory=list)
    not_specialising: frozenset[str] = frozenset()
    negating: frozenset[str] = frozenset()
    rewrites: dict[str, Terms] = field(default_factory=dict)
    implies: dict[str, Terms] = field(default_factory=dict)
    genera: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[Terms, int] = field(default_factory=dict, init=False)
    members: list[list[Terms]] = field(default_factory=list, init=False)
    bag_groups: dict[Terms, int] = field(default_factory=dict, init=False)
    _canon_cache: dict[str, Terms] = field(default_factory=dict, init=False, repr=False)
    group_names: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.suffix_required = [self.canon(" ".join(p)) for p in self.suffix_required]
        self.droppable_integral = [self.canon(" ".join(p)) for p in self.droppable_integral]
        self._index_synonyms()

    # ------------------------------------------------------------ canonical forms

    def canon(self, text: str) -> Terms:
        """Canonical terms: `terms()` plus British/American spelling and word variants."""
        cached = self._canon_cache.get(text)
        if cached is None:
            out: list[str] = []
            for term in self._genus(terms(text)):
                out.extend(self.spelling.get(term, (_spelling(term),)))
            cached = self._canon_cache[text] = tuple(out)
        return cached

    def _genus(self, words: Terms) -> list[str]:
        """'E. coli' -> 'escherichia coli': an initial before a species the vocabulary knows."""
        out = list(words)
        for i in range(len(out) - 1):
            if len(out[i]) == 1:
                genus = [g for g in self.genera.get(out[i + 1], []) if g[0] == out[i]]
                out[i] = genus[0] if genus else out[i]
        return out

    def canon_signature(self) -> str:
        """What decides `canon` (word variants, genus abbreviations), as a stable string."""
        return json.dumps([sorted(self.spelling.items()), sorted(self.genera.items())])

    def implied(self, words: Terms) -> set[str]:
        """Words a name implies ('adenocarcinoma' is a 'cancer')."""
        return {w for word in words for w in self.implies.get(word, ())}

    def core(self, name: Terms) -> tuple[Terms, list[str]]:
        """`name` without droppable qualifiers ('acute', 'active', 'infection') and without a
        trailing generic noun ('disease', 'syndrome', 'disorder'), where that is safe.
        Returns the core and the words dropped."""
        dropped: list[str] = []
        keep_all = self.integral(name)
        kept = [w for w in name if keep_all or w not in self.droppable]
        dropped += [w for w in name if not keep_all and w in self.droppable]
        if not kept:
            return name, []
        if len(kept) > 1 and kept[-1] in self.generic_suffixes:
            stem = tuple(kept[:-1])
            if not any(stem == phrase for phrase in self.suffix_required):
                dropped.append(kept[-1])
                kept = kept[:-1]
        return tuple(kept), dropped

    def integral(self, name: Terms) -> bool:
        """Whether 'acute'/'chronic'/... are part of this name ('chronic granulomatous')."""
        return any(_has(name, phrase) for phrase in self.droppable_integral)

    def group(self, name: Terms) -> int | None:
        """Index of the synonym group `name` belongs to (full name or its core)."""
        found = self.groups.get(name)
        return found if found is not None else self.groups.get(self.core(name)[0])

    def conflict(self, a: Terms, b: Terms) -> str | None:
        """A word pair that makes two names different entities ('left' vs 'right'); a name
        with both ('acute on chronic') contradicts neither."""
        for group in self.exclusive:
            in_a, in_b = group.intersection(a), group.intersection(b)
            if in_a - in_b and in_b - in_a:
                return f"{'/'.join(sorted(in_a))} vs {'/'.join(sorted(in_b))}"
        return None

    def synonyms_of(self, name: Terms) -> list[Terms]:
        """The other names of `name`'s synonym group (empty when it has none); words in
        another order count when their order carries no meaning."""
        index = self.group(name)
        if index is None and self.reorder_safe(name):
            index = self.bag_groups.get(tuple(sorted(name)))
        return [] if index is None else [m for m in self.members[index] if m != name]

    def reorder_safe(self, name: Terms) -> bool:
        return sum(w in self.order_sensitive for w in name) < 2

    def expansions(self, abbreviation: str) -> list[str]:
        return self.abbreviations.get(abbreviation.upper(), [])

    # ------------------------------------------------------------ building

    def _index_synonyms(self) -> None:
        """Merge groups that share a member, then map every member (and core) to its group."""
        merged: list[list[str]] = []
        member_of: dict[Terms, int] = {}
        for names in self.synonyms:
            keys = [self.canon(n) for n in names]
            hits = sorted({member_of[k] for k in keys if k in member_of})
            if hits:
                target = hits[0]
                for other in hits[1:]:
                    merged[target] += merged[other]
                    for key, index in member_of.items():
                        if index == other:
                            member_of[key] = target
                    merged[other] = []
                merged[target] += names
            else:
                target = len(merged)
                merged.append(list(names))
            for key in keys:
                member_of[key] = target
        self.group_names = [names[0] if names else "" for names in merged]
        self.members = [list(dict.fromkeys(self.canon(n) for n in names)) for names in merged]
        self.groups = dict(member_of)
        for key, index in member_of.items():
            self.groups.setdefault(self.core(key)[0], index)
            self.bag_groups.setdefault(tuple(sorted(key)), index)


def _has(name: Terms, phrase: Terms) -> bool:
    size = len(phrase)
    return any(name[i : i + size] == phrase for i in range(len(name) - size + 1))


def _strings(raw: dict[str, Any], key: str, source: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{source}: {key}: expected a list of strings")
    return list(value)


def lexicon_from_dict(raw: dict[str, Any], source: str = "<dict>") -> Lexicon:
    abbreviations = raw.get("abbreviations", {})
    if not isinstance(abbreviations, dict):
        raise LexiconError(f"{source}: abbreviations: expected an object")
    abbr: dict[str, list[str]] = {}
    for key, value in abbreviations.items():
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LexiconError(f"{source}: abbreviations.{key}: expected a name or a list")
        abbr["".join(words(key)).upper()] = names
    groups = raw.get("synonyms", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(n, str) for n in g) for g in groups
    ):
        raise LexiconError(f"{source}: synonyms: expected a list of lists of two or more names")
    spelling = raw.get("spelling", {})
    if not isinstance(spelling, dict) or not all(isinstance(v, str) for v in spelling.values()):
        raise LexiconError(f"{source}: spelling: expected an object of word -> word")
    return Lexicon(
        abbreviations=abbr,
        synonyms=groups,
        spelling={terms(k)[0]: terms(v) for k, v in spelling.items() if terms(k) and terms(v)},
        generic_suffixes=frozenset(_strings(raw, "generic_suffixes", source)),
        suffix_required=[terms(p) for p in _strings(raw, "suffix_required", source)],
        droppable=frozenset(_strings(raw, "droppable", source)),
        droppable_integral=[terms(p) for p in _strings(raw, "droppable_integral", source)],
        qualifiers=frozenset(_strings(raw, "qualifiers", source)),
        order_sensitive=frozenset(_strings(raw, "order_sensitive", source)),
        exclusive=[frozenset(g) for g in raw.get("exclusive", []) if isinstance(g, list)],
        not_specialising=frozenset(_strings(raw, "not_specialising", source)),
        negating=frozenset(_strings(raw, "negating", source)),
        rewrites=_word_map(raw, "concept_rewrites", source),
        implies=_word_map(raw, "implies", source),
        genera=_genera(raw, source),
    )


def _word_map(raw: dict[str, Any], key: str, source: str) -> dict[str, Terms]:
    value = raw.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise LexiconError(f"{source}: {key}: expected an object of word -> words")
    return {terms(k)[0]: terms(v) for k, v in value.items() if terms(k) and terms(v)}


def _genera(raw: dict[str, Any], source: str) -> dict[str, list[str]]:
    value = raw.get("genus_abbreviations", {})
    out: dict[str, list[str]] = {}
    if not isinstance(value, dict):
        raise LexiconError(f"{source}: genus_abbreviations: expected an object")
    for species, genus in value.items():
        names = [genus] if isinstance(genus, str) else genus
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise LexiconError(f"{source}: genus_abbreviations.{species}: expected a genus name")
        out[species.lower()] = [n.lower() for n in names]
    return out


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Read a vocabulary file; None reads the bundled one."""
    if path is None:
        return default_lexicon()
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiconError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise LexiconError(f"{path}: not a JSON file: {exc}") from None
    if not isinstance(raw, dict):
        raise LexiconError(f"{path}: expected a JSON object")
    return lexicon_from_dict(raw, str(path))


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    text = resources.files("clinsim.agents").joinpath("data", DEFAULT_FILE).read_text("utf-8")
    return lexicon_from_dict(json.loads(text), DEFAULT_FILE)
