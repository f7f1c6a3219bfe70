"""Say a scenario fact in the patient's own voice where that is easy.

Scenario facts are written about the patient ("The patient reports a 1-month history of ...",
"She notes that ...") or to the patient ("you are a 55-year-old woman who has noticed your
skin darkening", in AgentClinic's NEJM files). `first_person` rewrites the subject, the verb
right after it and the possessive pronouns ("I report a 1-month history of ...", "I note
that ...", "I am a 55-year-old woman who has noticed my skin darkening"). Anything it does not
recognise stays as written: the patient then quotes the fact. Only pronouns and verb endings
change, never the clinical words.
"""

from __future__ import annotations

import re


def word_set(text: str) -> frozenset[str]:
    """The space-separated words of `text`."""
    return frozenset(text.split())


_IRREGULAR = {"is": "am", "has": "have", "does": "do", "was": "was", "goes": "go"}
_ADVERBS = word_set(
    "also often frequently occasionally now currently previously still never recently "
    "additionally further usually sometimes always reportedly otherwise"
)
_SUBJECT = re.compile(r"^(?:the patient|patient|she|he)\b", re.IGNORECASE)
_POSSESSIVE_SUBJECT = re.compile(r"^(?:the patient's|patient's|her|his)\b\s*", re.IGNORECASE)
_ROLE_PREAMBLE = re.compile(r"^for your role as (?:a|the) patient,\s*", re.IGNORECASE)
_DEMOGRAPHIC = re.compile(r"^(?:a |an )?\d+[- ](?:year|month|week|day)s?[- ]old\b", re.IGNORECASE)
# A second verb of the same subject: "I present ... and reports new-onset difficulty".
_LATER_VERB = re.compile(
    r"((?:,|\band|\bbut|\bor) )(reports|notes|denies|states|describes|complains|mentions|says|"
    r"has|is|admits|endorses|experiences|feels|takes|drinks|smokes|works|lives|uses|presents)\b"
)
_SUBJECT_VERBS = word_set(
    "have had are were can could will would should may might must need needed feel felt do "
    "did don't didn't haven't hadn't aren't weren't can't couldn't won't noticed started "
    "experienced developed"
)
_OBJECT_BEFORE = word_set(
    "to with for at told tell gave give asked ask about from by given help helped "
    "examined examine bring brought"
)


def _base_verb(word: str) -> str:
    lower = word.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower.endswith("ies") and len(lower) > 4:
        return lower[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes")):
        return lower[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return lower[:-1]
    return lower


def _conjugate(words: list[str]) -> list[str]:
    """Turn the verb after a new subject "I" into its base form ("reports" -> "report")."""
    for i, word in enumerate(words):
        core = word.rstrip(".,;:!?")
        if core.lower() in _ADVERBS:
            continue
        if core.lower().endswith("s") or core.lower() in _IRREGULAR:
            words[i] = _base_verb(core) + word[len(core) :]
        break
    return words


def _third_person(sentence: str) -> str:
    match = _SUBJECT.match(sentence)
    if match:
        rest = [w for w in sentence[match.end() :].split(" ") if w]
        if rest:
            text = " ".join(["I", *_conjugate(rest)])
            return _LATER_VERB.sub(lambda m: m.group(1) + _base_verb(m.group(2)), text)
    if re.match(r"^denies\b", sentence, re.IGNORECASE):
        return "I deny" + sentence[len("denies") :]
    match = _POSSESSIVE_SUBJECT.match(sentence)
    if match:
        return "My " + sentence[match.end() :]
    return sentence


def _swap_pronouns(sentence: str) -> str:
    words = sentence.split(" ")
    out: list[str] = []
    for i, word in enumerate(words):
        core = word.strip(".,;:!?()\"'")
        lower = core.lower()
        replacement = None
        if lower in ("his", "her") and i > 0:
            following = words[i + 1] if i + 1 < len(words) else ""
            ends = word.endswith((".", ",", ";", ":", "!", "?"))
            object_use = ends or not following or following.lower() in _OBJECT_BEFORE
            replacement = "me" if (lower == "her" and object_use) else "my"
        elif lower == "him" and i > 0:
            replacement = "me"
        elif lower in ("she", "he") and i > 0 and words[0] == "I":
            replacement = "I"
            words[i + 1 :] = _conjugate(words[i + 1 :])
        elif lower in ("himself", "herself"):
            replacement = "myself"
        if replacement is not None and core:
            word = word.replace(core, replacement, 1)
        out.append(word)
    return " ".join(out)


def _second_person(sentence: str) -> str:
    sentence = _ROLE_PREAMBLE.sub("", sentence)
    replacements = [
        (r"\byou are\b", "I am"),
        (r"\byou were\b", "I was"),
        (r"\byou're\b", "I'm"),
        (r"\byou've\b", "I've"),
        (r"\byou'd\b", "I'd"),
        (r"\byou'll\b", "I'll"),
        (r"\byourself\b", "myself"),
        (r"\byours\b", "mine"),
        (r"\byour\b", "my"),
    ]
    for pattern, text in replacements:
        sentence = re.sub(pattern, text, sentence, flags=re.IGNORECASE)
    words = sentence.split(" ")
    for i, word in enumerate(words):
        if word.lower().strip(".,;:!?") == "you":
            before = words[i - 1].lower() if i else ""
            after = words[i + 1].lower() if i + 1 < len(words) else ""
            at_end = word.rstrip(".,;:!?") != word or i + 1 == len(words)
            as_object = at_end or (before in _OBJECT_BEFORE and after not in _SUBJECT_VERBS)
            words[i] = word.lower().replace("you", "me" if as_object else "I")
    return " ".join(words)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def first_person(sentence: str, field: str = "") -> str:
    """`sentence` as the patient would say it (see the module docstring)."""
    text = sentence.strip()
    if not text:
        return text
    if re.search(r"\byou(?:r|'re|'ve)?\b", text, re.IGNORECASE):
        return _capitalise(_second_person(text))
    if field == "demographics" and _DEMOGRAPHIC.match(text):
        article = "" if text.lower().startswith(("a ", "an ")) else "a "
        if re.match(r"(?:8|11|18|8\d)\D", text):
            article = "an "
        return f"I am {article}{text[0].lower()}{text[1:]}"
    text = _third_person(text)
    if field != "family_history" or text.startswith("I "):
        text = _swap_pronouns(text)
    return _capitalise(text)
