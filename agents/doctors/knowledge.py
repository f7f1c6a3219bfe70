"""What the baseline doctor knows: solved cases, and a case-based (nearest-neighbour) ranker.

The bundled knowledge file (`clinsim/agents/data/baseline_kb.json`, built by
`bench/build_baseline_kb.py`, described in `baseline_kb.md`) holds solved cases: MedQA diagnosis
questions that are not the source of a bundled scenario, and the case text of every bundled
scenario. Each case names its diagnosis and the scenario ids it must be hidden from.

Leave-one-out: when the doctor plays a scenario, every case derived from that scenario, from a
duplicate of it in another set or (MIMIC-IV) from another admission of the same patient is
hidden. The doctor knows only the played scenario's id and objective (never its answer); a case
is hidden when

- the played id is one of the case's `hidden_from` ids, or
- one of the case's `fingerprints` equals `fingerprint(objective)` or
  `fingerprint(objective, record)` of the played scenario, where `record` is the part of its id
  after the last '/' (a bundled file loaded by path keeps its records' line numbers or ids).
  A scenario whose objective is shared by several bundled cases (the MIMIC-IV and image sets use
  a few stock objectives) is fingerprinted with its record; others by the objective alone.

Ranking: the transcript and every case become sublinear TF-IDF vectors over content words
(unigrams and adjacent bigrams); a diagnosis (names compared after `clinsim.scenarios.text`
normalisation) scores the best cosine among its visible cases.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clinsim.environments.cache import cache_dir, write_whole
from clinsim.scenarios import text as text_module
from clinsim.scenarios.text import singular, split_parentheses, terms, words

KB_FILE = "baseline_kb.json"
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my no nor not now of off on once only or other our out over
    own same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your patient patients physician year years old man woman boy girl
    presents comes came brought history shows showed following likely reports today day days
    week weeks month months ago examination normal test tests available sure know
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

Vector = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def content_words(text: str) -> list[str]:
    """Singular content words of `text`: no stop words, bare numbers or single letters."""
    found = (singular(w) for w in words(text) if not w.isdigit())
    return [w for w in found if w not in STOPWORDS and len(w) > 1]


def tokens(text: str) -> list[str]:
    """Content words and their adjacent bigrams."""
    unigrams = content_words(text)
    return unigrams + [f"{a}_{b}" for a, b in pairwise(unigrams)]


def record_key(scenario_id: str) -> str:
    """'agentclinic-medqa/0001' -> '0001'."""
    return scenario_id.rsplit("/", 1)[-1]


def fingerprint(objective: str, record: str | None = None) -> str:
    """A short hash of a normalised objective, optionally tied to a record key."""
    key = " ".join(words(objective)) + ("" if record is None else f"#{record}")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def diagnosis_key(name: str) -> tuple[str, ...]:
    """Names that differ only in case, punctuation, plurals or a trailing alias are one
    diagnosis: 'Myasthenia gravis', 'myasthenia gravis', 'Myasthenia Gravis (MG)'."""
    outer, _ = split_parentheses(name)
    return terms(outer) or terms(name)


@dataclass(frozen=True)
class Case:
    diagnosis: str
    text: str
    source: str
    hidden_from: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()


class TfidfIndex:
    """Sublinear TF-IDF vectors of a fixed set of documents, L2-normalised, stored sparse
    (one posting list per term), so that a query costs a few array operations."""

    def __init__(self, documents: Sequence[str]):
        tokenised = [tokens(d) for d in documents]
        frequency: Counter[str] = Counter()
        for doc in tokenised:
            frequency.update(set(doc))
        self.size = len(tokenised)
        self.vocabulary = {w: i for i, w in enumerate(sorted(frequency))}
        df = np.array([frequency[w] for w in sorted(frequency)], dtype=np.float64)
        self.idf: Vector = np.log((1 + self.size) / (1 + df)) + 1.0
        rows = [self.vector(doc) for doc in tokenised]
        term_ids = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
        weights = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
        doc_ids = np.repeat(np.arange(self.size), [len(r[0]) for r in rows])
        order = np.argsort(term_ids, kind="stable")
        self.postings_doc = doc_ids[order]
        self.postings_weight = weights[order]
        counts = np.bincount(term_ids, minlength=len(self.vocabulary))
        self.start = np.concatenate([[0], np.cumsum(counts)])

    def save(self, file: Path) -> None:
        """The index as arrays in an `.npz` file (whatever its name); `load` reads it back."""
        with file.open("wb") as out:  # a path would get ".npz" added to its name
            np.savez(
                out,
                terms=np.array(list(self.vocabulary), dtype=np.str_),
                idf=self.idf,
                postings_doc=self.postings_doc,
                postings_weight=self.postings_weight,
                start=self.start,
            )

    @classmethod
    def load(cls, file: Path, size: int) -> TfidfIndex:
        """An index saved by `save` (no pickles); `size`: its number of documents."""
        index = cls.__new__(cls)
        index.size = size
        with np.load(file, allow_pickle=False) as saved:
            index.vocabulary = {term: i for i, term in enumerate(saved["terms"].tolist())}
            index.idf = saved["idf"]
            index.postings_doc = saved["postings_doc"]
            index.postings_weight = saved["postings_weight"]
            index.start = saved["start"]
        return index

    def vector(self, doc: list[str]) -> tuple[npt.NDArray[np.int64], Vector]:
        """(term ids, weights) of a tokenised text; unknown terms are dropped."""
        counts = Counter(t for t in doc if t in self.vocabulary)
        ids = np.array(sorted(self.vocabulary[t] for t in counts), dtype=np.int64)
        by_id = {self.vocabulary[t]: c for t, c in counts.items()}
        tf = np.array([1.0 + math.log(by_id[int(i)]) for i in ids])
        weights: Vector = tf * self.idf[ids] if len(ids) else np.zeros(0)
        norm = float(np.linalg.norm(weights))
        return ids, (weights / norm if norm else weights)

    def similarities(self, text: str) -> Vector:
        """Cosine similarity of `text` with every document."""
        ids, weights = self.vector(tokens(text))
        lengths = self.start[ids + 1] - self.start[ids]
        if not lengths.sum():
            return np.zeros(self.size)
        offsets = np.repeat(self.start[ids] - np.cumsum(lengths) + lengths, lengths)
        gather = offsets + np.arange(int(lengths.sum()))
        products = self.postings_weight[gather] * np.repeat(weights, lengths)
        result = np.bincount(self.postings_doc[gather], weights=products, minlength=self.size)
        return result.astype(np.float64)


def cached_index(documents: Sequence[str]) -> TfidfIndex:
    """The index of `documents`, read from the cache folder when these documents were indexed
    before by this code (building it takes 0.3-0.7 s; reading it, a few milliseconds). Arrays
    only (`.npz`, no pickles); a cache that cannot be written is skipped."""
    digest = hashlib.sha256()
    for module in (__file__, text_module.__file__):  # the tokeniser: this file and text.py
        digest.update(Path(str(module)).read_bytes())
    for document in documents:
        digest.update(document.encode("utf-8", "surrogatepass") + b"\0")
    path = cache_dir() / "baseline" / f"tfidf-{digest.hexdigest()[:16]}.npz"
    try:
        return TfidfIndex.load(path, len(documents))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # none, or damaged
        pass
    index = TfidfIndex(documents)
    with contextlib.suppress(OSError):  # an unwritable cache: keep the index in memory only
        write_whole(path, index.save)
    return index


class DiagnosisRanker:
    """Ranks the diagnoses of a knowledge base by similarity of their cases to a transcript."""

    def __init__(self, cases: Sequence[Case]):
        if not cases:
            raise ValueError("the knowledge base has no cases")
        self.cases = list(cases)
        self.index = cached_index([c.text for c in self.cases])
        keys = [diagnosis_key(c.diagnosis) for c in self.cases]
        groups = sorted(set(keys))
        number = {k: i for i, k in enumerate(groups)}
        self.label = np.array([number[k] for k in keys], dtype=np.int64)
        spellings: dict[tuple[str, ...], Counter[str]] = {k: Counter() for k in groups}
        for key, case in zip(keys, self.cases, strict=True):
            spellings[key][case.diagnosis] += 1
        self.names = [min(spellings[k].items(), key=lambda s: (-s[1], s[0]))[0] for k in groups]
        self._by_id: dict[str, list[int]] = {}
        for i, case in enumerate(self.cases):
            for hide_key in (*case.hidden_from, *case.fingerprints):
                self._by_id.setdefault(hide_key, []).append(i)

    def hidden(self, scenario_id: str, objective: str) -> Mask:
        """Cases that must not be used when playing this scenario (see the module docstring)."""
        mask = np.zeros(len(self.cases), dtype=np.bool_)
        keys = (
            scenario_id,
            fingerprint(objective),
            fingerprint(objective, record_key(scenario_id)),
        )
        for key in keys:
            mask[self._by_id.get(key, [])] = True
        return mask

    def visible_names(self, hidden: Mask | None = None) -> list[str]:
        """Names of the diagnoses that have at least one case not hidden."""
        labels = self.label if hidden is None else self.label[~hidden]
        return [self.names[i] for i in sorted(set(labels.tolist()))]

    def rank(
        self, transcript: str, top: int = 5, hidden: Mask | None = None
    ) -> list[tuple[str, float]]:
        """The `top` diagnoses, best first, using only cases not `hidden`. Ties are broken by
        name, so the ranking is deterministic."""
        sims = self.index.similarities(transcript)
        if hidden is not None:
            sims = np.where(hidden, -np.inf, sims)
        best = np.full(len(self.names), -np.inf)
        np.maximum.at(best, self.label, sims)
        scored = [(round(float(s), 12), self.names[i]) for i, s in enumerate(best) if s > -np.inf]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(name, score) for score, name in scored[:top]]


def _strings(item: dict[str, Any], field: str, where: str) -> tuple[str, ...]:
    value = item.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: '{field}' must be a list of strings")
    return tuple(value)


def cases_from_json(raw: object, source: str) -> list[Case]:
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise ValueError(f"{source}: expected an object with a 'cases' list")
    cases = []
    for number, item in enumerate(raw["cases"]):
        where = f"{source}: cases[{number}]"
        if not (
            isinstance(item, dict)
            and isinstance(item.get("diagnosis"), str)
            and isinstance(item.get("text"), str)
        ):
            raise ValueError(f"{where}: needs 'diagnosis' and 'text' strings")
        cases.append(
            Case(
                item["diagnosis"],
                item["text"],
                str(item.get("source", "")),
                _strings(item, "hidden_from", where),
                _strings(item, "fingerprints", where),
            )
        )
    return cases


def load_cases(path: str | Path | None = None) -> list[Case]:
    """Cases of a knowledge file; None reads the bundled one."""
    if path is None:
        text = resources.files("clinsim.agents").joinpath("data", KB_FILE).read_text("utf-8")
        return cases_from_json(json.loads(text), KB_FILE)
    path = Path(path)
    return cases_from_json(json.loads(path.read_text(encoding="utf-8")), str(path))


@lru_cache(maxsize=1)
def default_ranker() -> DiagnosisRanker:
    return DiagnosisRanker(load_cases())
