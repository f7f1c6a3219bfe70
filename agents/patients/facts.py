"""The fact-grounded patient: answers only from the scenario's patient facts.

The facts (`case.patient`: demographics, history, symptoms, past history, social and family
history, review of systems, medications, allergies, other) are split into small units:
sentences of text, list items, `key: value` pairs, each with its field path
(`social_history#1`, `symptoms.Secondary_Symptoms[0]`). A question is answered by:

1. routing by intent: regular expressions over the question point to fields ("do you smoke"
   -> social history, "how old" -> demographics, "what brings you in" -> the first sentence
   of the history and the primary symptom);
2. lexical scoring: BM25 over stemmed words, with a small synonym map so "cigarettes" finds
   "non-smoker" and "tired" finds "fatigue" (`clinsim/agents/data/patient_lexicon.json`);
3. taking at most three units, said in the first person (`voice.py`). A question bound to a
   topic (family, allergies, medications, smoking, work, ...) is answered only from facts of
   that topic (`topics.py`); the family history answers only family questions. With nothing
   relevant the patient says "I'm not sure about that."

The patient never names the diagnosis: units that contain any of the `forbidden` names
(normalised, whole phrase) are dropped before anything else. The factory passes the answer
key's diagnosis and synonyms for this and nothing else. Answers are deterministic: the same
question on the same facts always gets the same answer.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from snowballstemmer.english_stemmer import EnglishStemmer

from clinsim.agents.patients.person import Gender, patient_gender
from clinsim.agents.patients.topics import allowed
from clinsim.agents.patients.voice import first_person, word_set
from clinsim.environments.factories import RoleRequest, patient
from clinsim.environments.roles import PatientTurn
from clinsim.plugins import NoConfig
from clinsim.scenarios.model import Facts, PatientFacts
from clinsim.scenarios.text import NameMatcher

UNKNOWN = "I'm not sure about that."
MAX_UNITS = 3
FIELDS = (
    "demographics",
    "history",
    "symptoms",
    "past_medical_history",
    "social_history",
    "family_history",
    "review_of_systems",
    "medications",
    "allergies",
)
_QUIET_KEYS = word_set(
    "primary_symptom secondary_symptoms symptoms description details history findings "
    "other notes summary"
)
# Notes about the source rather than facts ("Information not provided."): not said.
_NO_INFORMATION = re.compile(
    r"\b(?:not|no \w+(?: \w+)?) (?:provided|specified|available|documented|given|mentioned)\b",
    re.IGNORECASE,
)
# Instructions to a role-player rather than facts (AgentClinic's NEJM patient texts).
_ROLE_PLAY = re.compile(
    r"\b(?:role|roles|convey|portray\w*|character|actor|remember|scenario)\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\s+-\s+|\*\*[^*]{0,60}\*\*:?")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FactUnit:
    path: str
    field: str
    text: str
    """What the patient says (the fact, with its key when the key is informative)."""
    terms: tuple[str, ...]


# ---------------------------------------------------------------- lexicon


@dataclass(frozen=True)
class Intent:
    name: str
    pattern: re.Pattern[str]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    synonyms: dict[str, str]
    intents: tuple[Intent, ...]
    stopwords: frozenset[str]


_STEMMER = EnglishStemmer()  # the package's own `stemmer()` loads every language


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    path = resources.files("clinsim.agents").joinpath("data", "patient_lexicon.json")
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    synonyms = {word: canonical for canonical, words in raw["synonyms"].items() for word in words}
    intents = tuple(
        Intent(item["name"], re.compile(item["pattern"]), tuple(item["fields"]))
        for item in raw["intents"]
    )
    return Lexicon(synonyms, intents, frozenset(raw["stopwords"]))


def terms_of(text: str) -> tuple[str, ...]:
    """Content words of `text`: lower-cased, stop words dropped, synonyms merged (the words
    listed in the lexicon), others stemmed."""
    lex = lexicon()
    words = _WORD.findall(text.lower().replace("non-", "non "))
    kept = (w for w in words if w not in lex.stopwords and len(w) > 1)
    return tuple(lex.synonyms.get(w) or _stem(w) for w in kept)


# ---------------------------------------------------------------- units


def _sentences(text: str) -> list[str]:
    """Sentences and list items of `text` (bullets and bold headings split too)."""
    parts = (s.strip(" -:*\n\t") for s in _SENTENCE_END.split(text.strip()))
    return [s for s in parts if s and any(c.isalnum() for c in s)]


def _key_words(key: str) -> str:
    return key.replace("_", " ").strip()


def _walk(value: Facts, path: str, label: str) -> Iterable[tuple[str, str, str]]:
    """(path, spoken text, indexed text) for every unit under `value`."""
    if value is None:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            quiet = key.lower() in _QUIET_KEYS
            yield from _walk(child, f"{path}.{key}", "" if quiet else _key_words(key))
        return
    if isinstance(value, list):
        for number, item in enumerate(value):
            yield from _walk(item, f"{path}[{number}]", label)
        return
    text = str(value).strip() if not isinstance(value, bool) else ("yes" if value else "no")
    parts = _sentences(text) if isinstance(value, str) else [text]
    for number, sentence in enumerate(parts):
        spoken = f"{label}: {sentence}" if label else sentence
        unit_path = path if len(parts) == 1 else f"{path}#{number}"
        yield unit_path, spoken, f"{label} {sentence}"


def fact_units(facts: PatientFacts, forbidden: Sequence[str] = ()) -> list[FactUnit]:
    """The patient's facts as small units in source order, without any that name a
    forbidden name (whole phrases, see `clinsim.scenarios.text.NameMatcher`)."""
    matcher = NameMatcher(forbidden)
    sources: list[tuple[str, Facts]] = [(name, getattr(facts, name)) for name in FIELDS]
    sources += [(f"other.{key}", value) for key, value in facts.other.items()]
    units: list[FactUnit] = []
    for field, value in sources:
        for path, spoken, indexed in _walk(value, field, ""):
            if matcher and matcher.found_in(indexed):
                continue
            if len(spoken.split()) <= 6 and _NO_INFORMATION.search(spoken):
                continue
            if _ROLE_PLAY.search(spoken):
                continue
            units.append(FactUnit(path, field, spoken, terms_of(indexed)))
    return units


# ---------------------------------------------------------------- retrieval


def routed_paths(question: str, units: Sequence[FactUnit]) -> list[str]:
    """Unit paths the question's intent points to, in the order of the matched intents."""
    text = question.lower()
    paths: list[str] = []
    for intent in lexicon().intents:
        if not intent.pattern.search(text):
            continue
        for target in intent.fields:
            field, _, mode = target.partition(":")
            hits = [
                u.path
                for u in units
                if u.path == field or u.path.startswith((f"{field}.", f"{field}#", f"{field}["))
            ]
            for path in hits[:1] if mode == "first" else hits:
                if path not in paths:
                    paths.append(path)
    return paths


def bm25_scores(query: Sequence[str], units: Sequence[FactUnit]) -> list[float]:
    """Okapi BM25 (k1=1.2, b=0.75) of each unit for the query terms."""
    if not units or not query:
        return [0.0] * len(units)
    count = len(units)
    average = sum(len(u.terms) for u in units) / count or 1.0
    frequency = Counter(term for u in units for term in set(u.terms))
    scores = []
    for unit in units:
        tf = Counter(unit.terms)
        score = 0.0
        for term in set(query):
            if term not in tf:
                continue
            idf = math.log(1.0 + (count - frequency[term] + 0.5) / (frequency[term] + 0.5))
            norm = tf[term] + 1.2 * (0.25 + 0.75 * len(unit.terms) / average)
            score += idf * tf[term] * 2.2 / norm
        scores.append(score)
    return scores


def select_units(question: str, units: Sequence[FactUnit]) -> list[FactUnit]:
    """At most `MAX_UNITS` units relevant to `question`, in source order. A question bound to
    a topic (family, smoking, medications, ...) is answered only from facts of that topic
    (`clinsim.agents.patients.topics`)."""
    bound, permitted = allowed(question, units)
    scores = bm25_scores(terms_of(question), units)
    lexical = [s if ok else 0.0 for s, ok in zip(scores, permitted, strict=True)]
    routed = [p for p in routed_paths(question, units) if permitted[_index(units, p)]]
    # Within the fields the intent points to, units with a matching word go first; when none
    # has one, the whole field answers ("Any allergies?" -> all of the allergies), unless an
    # open question finds its words elsewhere ("When was your last period?").
    matching = [path for path in routed if lexical[_index(units, path)] > 0.0]
    if matching:
        routed = matching
    elif not bound and any(score > 0.0 for score in lexical):
        routed = []
    boost = max(lexical, default=0.0) + 1.0
    scored: list[tuple[float, int]] = []
    for index, unit in enumerate(units):
        score = lexical[index]
        if unit.path in routed:
            score += boost * (1.0 - 0.01 * routed.index(unit.path))
        if score > 0.0:
            scored.append((score, index))
    if not scored:  # a bound question with no word in common: the topic's facts answer
        fallback = [unit for unit, ok in zip(units, permitted, strict=True) if ok]
        return fallback[:MAX_UNITS] if bound else []
    scored.sort(key=lambda item: (-item[0], item[1]))
    top = scored[0][0]
    chosen = sorted(index for score, index in scored[:MAX_UNITS] if score >= 0.5 * top)
    return [units[index] for index in chosen]


def _index(units: Sequence[FactUnit], path: str) -> int:
    return next(i for i, unit in enumerate(units) if unit.path == path)


def spoken(unit: FactUnit, gender: Gender | None = None) -> str:
    """The unit as the patient says it: in the first person, ending with a full stop."""
    text = first_person(unit.text, unit.field, gender)
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------- the patient


class FactPatient:
    """Implements `clinsim.environments.roles.Patient` from the scenario's facts alone."""

    def __init__(self, facts: PatientFacts, forbidden: Sequence[str] = ()):
        self.units = fact_units(facts, forbidden)
        self.gender = patient_gender(facts.demographics)

    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        return self.reply(question)

    def reply(self, question: str) -> PatientTurn:
        chosen = select_units(question, self.units)
        if not chosen:
            return PatientTurn(answer=UNKNOWN, facts=[])
        answer = " ".join(spoken(unit, self.gender) for unit in chosen)
        return PatientTurn(answer=answer, facts=[unit.path for unit in chosen])


@patient("facts")
def facts(request: RoleRequest, config: NoConfig) -> FactPatient:
    """Answers only from the scenario's patient facts (no model)."""
    answer = request.scenario.answer  # read only to never say it, not to answer with it
    return FactPatient(
        request.scenario.case.patient, forbidden=[answer.diagnosis, *answer.synonyms]
    )
