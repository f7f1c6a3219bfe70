"""Say a scenario fact in the patient's own voice.

Scenario facts are written about the patient ("The patient reports a 1-month history of ...",
"She notes that ...", "Does not want to eat.", "His mother says he has been sleepy") or to the
patient ("you are a 55-year-old woman who has noticed your skin darkening", in AgentClinic's
NEJM files). `first_person` rewrites every reference to the patient into the first person and
makes the verbs agree: a subject ("the patient", "he", "the boy", or none at the start of a
clause) becomes "I" and its verb the first-person form ("reports" -> "report", "is" -> "am"),
also the verbs joined to it ("I vomited twice and do not want to eat"); possessives and
objects become "my"/"me"/"myself". A pronoun is the patient's unless its gender is not the
patient's, or a person of its gender was named before it in the sentence and it is not what
that person reported ("My mother has asthma; she ..." stays; "His wife says he ..." does not);
in a family history only "his/her <relative>" is the patient's. A clause without a subject in
the symptoms that says what a lesion or pain does ("Has grown.") gets "It". Only pronouns and
verb forms change, never the clinical words.
"""

from __future__ import annotations

import re

from lemminflect import getAllLemmas, getLemma

from clinsim.agents.patients.person import (
    PRONOUN_GENDER,
    REPORTING_VERBS,
    THIRD_PARTIES,
    Gender,
)


def word_set(text: str) -> frozenset[str]:
    """The space-separated words of `text`."""
    return frozenset(text.split())


_FIRST_PERSON = {"is": "am", "has": "have", "does": "do", "was": "was", "doesn't": "don't"}
_FIRST_PERSON |= {"isn't": "am not", "hasn't": "haven't", "he's": "I'm", "she's": "I'm"}
_ADVERBS = word_set(
    "also often frequently occasionally now currently previously still never recently "
    "additionally further usually sometimes always reportedly otherwise then generally "
    "only just really instead"
)
_ROLE_PREAMBLE = re.compile(r"^for your role as (?:a|the) patient,\s*", re.IGNORECASE)
_DEMOGRAPHIC = re.compile(r"^(?:a |an )?\d+[- ](?:year|month|week|day)s?[- ]old\b", re.IGNORECASE)
_SUBJECT_VERBS = word_set(
    "have had are were can could will would should may might must need needed feel felt do "
    "did don't didn't haven't hadn't aren't weren't can't couldn't won't noticed started "
    "experienced developed"
)
_OBJECT_BEFORE = word_set(
    "to with for at told tell gave give asked ask about from by given help helped "
    "examined examine bring brought"
)
_PERSON_NOUNS = word_set(
    "boy girl child infant baby toddler neonate newborn man woman gentleman lady adolescent "
    "teenager student"
)
_SPEECH = word_set(
    "says said reports reported notes noted states stated mentions mentioned believes thinks "
    "thought observed noticed describes described explains explained adds added confirms "
    "confirmed worries fears feels felt recalls recalled"
)
_CLAUSE_WORDS = word_set(
    "that which who whom whose because although though while when whereas if "
    "where it they we this these there"
)
_FINITE = word_set("are were had have can could will would did do may might must")
# What follows a verb (an object, a negation, an adverb) rather than a noun ("in", "of").
_AFTER_VERB = word_set("a an the not no any my his her it them that this well")
_OBJECT_AFTER = word_set(
    "to with for at in on as into and or but because when while that after before since over "
    "again up down out off back about from by"
)
_CLAUSE_START = word_set(
    "and but or that because when while although though if since as after before until where"
)
_THING_VERBS = word_set(
    "grow change bleed itch spread radiate worsen improve enlarge ooze recur resolve last "
    "occur come hurt burn increase decrease"
)
_RELATIVES = (
    THIRD_PARTIES["female"]
    | THIRD_PARTIES["male"]
    | word_set(
        "parent parents sibling siblings cousin cousins family relative relatives grandparent "
        "grandparents child children"
    )
)
_QUOTED = re.compile(r"(?<!\w)'(?:[^']|'\w)*'(?!\w)|\"[^\"]*\"")
_TRAIL = ".,;:!?)\"'"


def _core(word: str) -> str:
    return word.strip(_TRAIL + "(\"'").lower()


def _third_singular(word: str) -> bool:
    """`word` can be a verb in the third person singular ("reports", "denies", "goes")."""
    lower = word.lower()
    if lower in _FIRST_PERSON or lower in REPORTING_VERBS:
        return True
    return lower.endswith("s") and "VERB" in getAllLemmas(lower)


def _agree(word: str) -> str:
    """The first-person form of a third-person verb, keeping trailing punctuation."""
    core = word.rstrip(_TRAIL)
    lower = core.lower()
    if lower in _FIRST_PERSON:
        base = _FIRST_PERSON[lower]
    elif _third_singular(lower):
        base = getLemma(lower, upos="VERB")[0]
    else:
        return word
    return base + word[len(core) :]


def _replace(word: str, text: str) -> str:
    core = word.strip(_TRAIL + "(\"'")
    return word.replace(core, text, 1) if core else word


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


def _is_patient(words: list[str], i: int, gender: Gender | None, family: bool) -> bool:
    """Whether the pronoun at `i` refers to the patient (see the module docstring)."""
    lower = _core(words[i])
    own = PRONOUN_GENDER[lower]
    if gender is not None and own != gender:
        return False
    following = _core(words[i + 1]) if i + 1 < len(words) else ""
    if family:
        return lower in ("his", "her") and following in _RELATIVES
    before = [_core(w) for w in words[:i]]
    previous = [w for w in before if w != "that"][-1:]
    if previous and previous[0] in _SPEECH:
        return True
    named = THIRD_PARTIES[own].intersection(before)
    return (
        not named
        or lower in ("him", "himself", "herself")
        or (lower == "her" and _object_use(words, i))
    )


def _object_use(words: list[str], i: int) -> bool:
    following = _core(words[i + 1]) if i + 1 < len(words) else ""
    ends = words[i].endswith((".", ",", ";", ":", "!", "?"))
    adverb = following in _ADVERBS or (following.endswith("ly") and len(following) > 4)
    article = following in ("a", "an", "the", "some", "this", "these")
    return ends or not following or following in _OBJECT_AFTER or adverb or article


def _pronoun(words: list[str], i: int) -> str:
    lower = _core(words[i])
    if lower in ("he", "she"):
        return "I"
    if lower in ("him",) or (lower == "her" and _object_use(words, i)):
        return "me"
    if lower in ("himself", "herself"):
        return "myself"
    return "mine" if lower == "hers" else "my"


def _subject_at(words: list[str], i: int) -> int:
    """How many words at `i` name the patient ("the patient", "the boy" at the start,
    "patient" at the start), 0 if none."""
    lower = [_core(w) for w in words[i : i + 2]]
    if lower[:1] == ["patient"] and i == 0:
        return 1
    named = len(lower) == 2 and lower[0] == "the"
    if named and (lower[1] == "patient" or (lower[1] in _PERSON_NOUNS and i == 0)):
        return 2
    return 0


def _verb_follows(word: str) -> bool:
    return word in _AFTER_VERB or word in _ADVERBS or (word.endswith("ly") and len(word) > 4)


def _open_clause(words: list[str], field: str) -> list[str]:
    """A clause that starts with a third-person verb gets a subject: "I", or "It" in the
    symptoms when the verb says what a lesion or pain does."""
    if not words or field == "family_history":
        return words
    first = words[0].rstrip(_TRAIL)
    lower = first.lower()
    following = _core(words[1]) if len(words) > 1 else ""
    reporting = lower in REPORTING_VERBS and (following != "of" or lower == "complains")
    verb = reporting or lower in ("was", "had")
    if not field.startswith("symptoms"):
        verb = verb or (_third_singular(lower) and _verb_follows(following))
    if not verb or (first != words[0] and len(words) == 1):
        return words
    lemmas = {getLemma(w, upos="VERB")[0] for w in (lower, following) if w}
    if field.startswith("symptoms") and lemmas & _THING_VERBS:
        return ["It", lower, *words[1:]]
    return ["I", _agree(lower), *words[1:]]


def _rewrite(words: list[str], field: str, gender: Gender | None) -> list[str]:
    out: list[str] = []
    agree_next = in_clause = aside = False
    i = 0
    while i < len(words):
        word, lower = words[i], _core(words[i])
        span = _subject_at(words, i)
        if span:
            said = words[i + span - 1]
            opening = not out or out[-1].endswith((",", ";", ":"))
            subject = opening or _core(out[-1]) in _CLAUSE_START
            if len(out) >= 3 and _core(out[-1]) == "of" and _core(out[-3]) == "the":
                out[-3:] = ["my", out[-2]]  # "the age of the patient" -> "my age"
                out[-1] += said[len(said.rstrip(_TRAIL)) :]
            else:
                out.append(_replace(said, "I" if subject else "me"))
            agree_next = in_clause = subject
            aside = subject and said.endswith(",")  # "The patient, who ..., complains"
            i += span
            continue
        if aside:
            aside = not word.endswith(",")
            out.append(word)
            i += 1
            continue
        if lower in ("the",) and i + 1 < len(words) and _core(words[i + 1]) == "patient's":
            out.append("my")
            i += 2
            continue
        if word == "I":
            agree_next = in_clause = True
        elif lower == "patient's":
            word = _replace(word, "my")
        elif lower in PRONOUN_GENDER and _is_patient(words, i, gender, field == "family_history"):
            replacement = _pronoun(words, i)
            word = _replace(word, replacement)
            if replacement == "I":
                agree_next = in_clause = True
                out.append(word)
                i += 1
                continue
        elif agree_next and lower not in _ADVERBS:
            word, agree_next = _agree(word), False
        elif in_clause and _joined_verb(out, words, i):
            word = _agree(word)
        elif _new_clause(words, i):
            in_clause = False
        out.append(word)
        if word.endswith((";", ".", ":", "!", "?")):
            in_clause = agree_next = False
        i += 1
    return out


def _new_clause(words: list[str], i: int) -> bool:
    """A word that opens a clause with a subject of its own ("that the rash ...", "while
    it ...", "which ..."), not one that goes on with the same subject ("while walking")."""
    lower = _core(words[i])
    following = _core(words[i + 1]) if i + 1 < len(words) else ""
    if lower in ("that", "which", "who", "whom", "whose"):
        return True
    if lower in ("it", "they", "this", "these", "there"):
        return following in _FIRST_PERSON or following in _FINITE or _third_singular(following)
    return lower in _CLAUSE_WORDS and not following.endswith(("ing", "ed"))


def _joined_verb(out: list[str], words: list[str], i: int) -> bool:
    """The word at `i` is a verb joined to the clause's subject "I" ("and reports ...")."""
    previous = [w for w in out if _core(w) not in _ADVERBS][-1:]
    if not previous:
        return False
    joined = _core(previous[0]) in ("and", "but", "or") or previous[0].endswith(",")
    lower = _core(words[i])
    if not joined or not _third_singular(lower):
        return False
    following = _core(words[i + 1]) if i + 1 < len(words) else ""
    return lower in REPORTING_VERBS or lower in _FIRST_PERSON or _verb_follows(following)


def _third_person(text: str, field: str, gender: Gender | None) -> str:
    text = text.replace("\u2019s", "'s")
    clauses = re.split(r"(?<=[;:])\s+", text)
    words = " ".join(" ".join(_open_clause(c.split(" "), field)) for c in clauses).split(" ")
    return " ".join(_rewrite(words, field, gender))


def first_person(sentence: str, field: str = "", gender: Gender | None = None) -> str:
    """`sentence` as the patient would say it (see the module docstring)."""
    text = sentence.strip()
    if not text:
        return text
    unquoted = _QUOTED.sub("", text)
    if re.search(r"\byou(?:r|'re|'ve)?\b", unquoted, re.IGNORECASE):
        return _capitalise(_second_person(text))
    if field == "demographics" and _DEMOGRAPHIC.match(text):
        article = "" if text.lower().startswith(("a ", "an ")) else "a "
        if re.match(r"(?:8|11|18|8\d)\D", text):
            article = "an "
        return f"I am {article}{text[0].lower()}{text[1:]}"
    return _capitalise(_third_person(text, field, gender))
