"""What the baseline doctor knows: diagnosis descriptions and a TF-IDF ranker over them.

The bundled knowledge file (`clinsim/agents/data/baseline_kb.json`, built by
`bench/build_baseline_kb.py`, described in `baseline_kb.md`) holds MedQA US test questions that
ask for a diagnosis: the case text and the correct option's text. Questions that are the
source of a bundled scenario are left out, so the baseline does not memorise answers.

Ranking: the transcript and every case text become sublinear TF-IDF vectors over content
words (unigrams and adjacent bigrams); a diagnosis scores the best cosine among its cases.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clinsim.scenarios.text import singular, terms, words

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


def tokens(text: str) -> list[str]:
    """Content words (singular, no stop words or bare numbers) and their adjacent bigrams."""
    unigrams = [
        singular(w) for w in words(text) if w not in STOPWORDS and not w.isdigit() and len(w) > 1
    ]
    return unigrams + [f"{a}_{b}" for a, b in pairwise(unigrams)]


@dataclass(frozen=True)
class Case:
    diagnosis: str
    text: str
    source: str


class TfidfIndex:
    """Sublinear TF-IDF vectors of a fixed set of documents, L2-normalised."""

    def __init__(self, documents: Sequence[str]):
        tokenised = [tokens(d) for d in documents]
        frequency: Counter[str] = Counter()
        for doc in tokenised:
            frequency.update(set(doc))
        self.vocabulary = {w: i for i, w in enumerate(sorted(frequency))}
        n = len(tokenised)
        self.idf = np.zeros(len(self.vocabulary))
        for word, index in self.vocabulary.items():
            self.idf[index] = math.log((1 + n) / (1 + frequency[word])) + 1.0
        rows = [self._vector(doc) for doc in tokenised]
        self.matrix = np.stack(rows) if rows else np.zeros((0, len(self.vocabulary)))

    def _vector(self, doc: list[str]) -> Vector:
        vector = np.zeros(len(self.vocabulary))
        for word, count in Counter(doc).items():
            index = self.vocabulary.get(word)
            if index is not None:
                vector[index] = (1.0 + math.log(count)) * self.idf[index]
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def similarities(self, text: str) -> Vector:
        """Cosine similarity of `text` with every document."""
        result: Vector = self.matrix @ self._vector(tokens(text))
        return result


class DiagnosisRanker:
    """Ranks the diagnoses of a knowledge base by similarity to a transcript."""

    def __init__(self, cases: Sequence[Case]):
        if not cases:
            raise ValueError("the knowledge base has no cases")
        self.cases = list(cases)
        self.index = TfidfIndex([c.text for c in self.cases])
        groups: dict[tuple[str, ...], list[int]] = {}
        names: dict[tuple[str, ...], str] = {}
        for i, case in enumerate(self.cases):
            key = terms(case.diagnosis)
            groups.setdefault(key, []).append(i)
            names.setdefault(key, case.diagnosis)
        self.names = [names[k] for k in groups]
        self.members = [np.array(v) for v in groups.values()]

    def rank(self, transcript: str, top: int = 5) -> list[tuple[str, float]]:
        """The `top` diagnoses, best first; ties broken by name, so ranking is deterministic."""
        sims = self.index.similarities(transcript)
        scored = [
            (float(sims[m].max()), name) for m, name in zip(self.members, self.names, strict=True)
        ]
        scored.sort(key=lambda item: (-round(item[0], 12), item[1]))
        return [(name, score) for score, name in scored[:top]]


def cases_from_json(raw: object, source: str) -> list[Case]:
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise ValueError(f"{source}: expected an object with a 'cases' list")
    cases = []
    for number, item in enumerate(raw["cases"]):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("diagnosis"), str)
            and isinstance(item.get("text"), str)
        ):
            raise ValueError(f"{source}: cases[{number}]: needs 'diagnosis' and 'text' strings")
        cases.append(Case(item["diagnosis"], item["text"], str(item.get("source", ""))))
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
