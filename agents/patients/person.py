"""Who a fact is about: the patient's gender from the demographics, and a check that a text
the patient says refers to the patient only in the first person.

`third_person_leftovers` finds what a first-person rewrite missed (or what an LLM patient said
about itself as if it were someone else): "the patient", a sentence that starts with a
third-person verb ("Reports fatigue."), "I" with a third-person verb ("I has", "I vomited and
does not eat"), and he/she/his/her/him of the patient's gender where no person of that gender
was named before in the sentence ("My mother has asthma; she ..." is about the mother).
"""

from __future__ import annotations

import re
from typing import Literal

Gender = Literal["female", "male"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split(" "))


_FEMALE = re.compile(r"\b(?:woman|female|girl|lady|mother|wife|she)\b", re.IGNORECASE)
_MALE = re.compile(r"\b(?:man|male|boy|gentleman|father|husband|he)\b", re.IGNORECASE)
PRONOUN_GENDER: dict[str, Gender] = {
    "he": "male",
    "him": "male",
    "his": "male",
    "himself": "male",
    "she": "female",
    "her": "female",
    "hers": "female",
    "herself": "female",
}
THIRD_PARTIES: dict[Gender, frozenset[str]] = {
    "female": _words(
        "mother mom mum sister wife daughter aunt grandmother girlfriend niece woman "
        "stepmother grandma"
    ),
    "male": _words(
        "father dad brother husband son uncle grandfather boyfriend nephew man stepfather grandpa"
    ),
}
REPORTING_VERBS = _words(
    "reports notes denies states describes complains mentions says admits endorses has is "
    "does presents experiences takes drinks smokes works lives uses attends performs feels "
    "appears seems expresses recalls believes goes plays sleeps eats enjoys needs wants "
    "keeps gets walks recounts indicates explains adds confirms"
)
_PATIENT = re.compile(r"\bthe patient\b|\bpatient's\b|^patient\b|\bI ' |\bI's\b", re.IGNORECASE)
_TERM = re.compile(r"reaction of patient", re.IGNORECASE)  # an ICD-10 title, not a reference
_ADVERBS = r"(?:also |often |still |now |never |currently |usually |frequently |sometimes |then )?"
_I_VERB = re.compile(r"\bI " + _ADVERBS + r"(?:is|has|does|doesn't|was not)\b|\bI (\w+s)\b")
_AND_VERB = re.compile(r"\b(?:and|but|or) " + _ADVERBS + r"(does|doesn't|has|is|(\w+s))\b")
# The last subject-like word before a joined verb: "I", or a word that opens another clause.
_LAST_SUBJECT = re.compile(r"\b(?:I|that|which|who|it|they|he|she|this|these)\b")
_CLAUSES = re.compile(r"(?<=[.;:!?])\s+")
_WORD = re.compile(r"[A-Za-z']+")
_OPENING = re.compile(r"([A-Za-z']+)\W*(\w*)")


def patient_gender(demographics: object) -> Gender | None:
    """The patient's gender as the demographics say it ("52-year-old female"), if they do."""
    text = demographics if isinstance(demographics, str) else str(demographics or "")
    female, male = _FEMALE.search(text), _MALE.search(text)
    if female and not male:
        return "female"
    if male and not female:
        return "male"
    if female and male:
        return "female" if female.start() < male.start() else "male"
    return None


def _verb_s(word: str) -> bool:
    return word.lower() in REPORTING_VERBS


def _pronoun_leftovers(clause: str, gender: Gender | None, family: bool) -> list[str]:
    words = _WORD.findall(clause)
    found: list[str] = []
    for i, word in enumerate(words):
        lower = word.lower()
        own = PRONOUN_GENDER.get(lower)
        if own is None or (gender is not None and own != gender):
            continue
        before = {w.lower() for w in words[:i]}
        if before & THIRD_PARTIES[own]:
            continue
        if family and lower not in ("his", "her"):
            continue  # "Father had a stroke; he ..." in a family history
        found.append(word)
    return found


def third_person_leftovers(text: str, gender: Gender | None = None, field: str = "") -> list[str]:
    """The places where `text`, said by the patient, still speaks of the patient in the third
    person (empty when it speaks in one voice)."""
    found: list[str] = []
    for clause in _CLAUSES.split(text.strip()):
        named = _PATIENT.search(_TERM.sub("", clause))
        if named:
            found.append(named.group(0))
        first = _OPENING.match(clause.lstrip("-*( "))
        verb = first and _verb_s(first.group(1)) and first.group(1)[0].isupper()
        if first and verb and (first.group(2) != "of" or first.group(1) == "Complains"):
            found.append(first.group(1))
        for match in _I_VERB.finditer(clause):
            if match.group(1) is None or _verb_s(match.group(1)):
                found.append(match.group(0))
        for match in _AND_VERB.finditer(clause):
            subject = _LAST_SUBJECT.findall(clause[: match.start()])
            if subject[-1:] == ["I"] and (match.group(2) is None or _verb_s(match.group(2))):
                found.append(match.group(0))
        found += _pronoun_leftovers(clause, gender, field == "family_history")
    return found
