"""AgentClinic's text protocol, read as AgentClinic's own script reads it.

The script tests for the exact, upper-case markers anywhere in the reply, `DIAGNOSIS READY`
before `REQUEST TEST`; so do we (markdown around a marker, `**DIAGNOSIS READY:**`, still
contains it; "Diagnosis ready", "Final diagnosis:" do not, and are said to the patient, as
there). `REQUEST IMAGES` becomes the image request the caller supplies; anything else is a
question to the patient. The diagnosis or test is the text after the marker up to the end of
its line (or the next line when the marker ends one), without markdown, quotes, brackets,
a trailing period, or an explanation after a spaced dash or a new sentence. Two different
diagnoses or tests in one reply are ambiguous; a template placeholder is no answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinsim.agents.llm.parsing.actions import ReplyParseError, single_action
from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis

DIAGNOSIS_READY = "DIAGNOSIS READY"
REQUEST_TEST = "REQUEST TEST"
REQUEST_IMAGES = "REQUEST IMAGES"
_MARKER = re.compile(f"{DIAGNOSIS_READY}|{REQUEST_TEST}|{REQUEST_IMAGES}")
_SPEAKER = re.compile(r"^\s*(?:dr\.?\s*agent|doctor)\s*:\s*", re.I)
_PAIRS = {"[": "]", "(": ")", '"': '"', "'": "'", "“": "”"}
_EXPLANATION = re.compile(r"\s+[-–—]\s+|(?<=[A-Za-z0-9)]{3})\.\s+(?=[A-Z])")
_PLACEHOLDERS = {"diagnosis here", "diagnosis", "test", "test name", "your diagnosis", "..."}


def _unwrap(value: str) -> str:
    while len(value) > 1 and _PAIRS.get(value[0]) == value[-1]:
        value = value[1:-1].strip()
    return value


def _value(segment: str) -> tuple[str, str]:
    """The diagnosis or test written after a marker (segment: up to the next marker), and the
    line it was read from."""
    segment = segment.lstrip("*_`: \t-–—")
    line = next((line for line in segment.splitlines() if line.strip(" *_`:")), "").strip()
    plain = re.sub(r"\*\*|__|`", "", line).strip(" *_")
    plain = _EXPLANATION.split(plain, maxsplit=1)[0]
    value = _unwrap(plain.strip().rstrip(".;:,").strip())
    return ("" if value.lower() in _PLACEHOLDERS else value), line


def _values(text: str, marker: str, repairs: list[str]) -> list[str]:
    starts = list(_MARKER.finditer(text))
    found = []
    for index, match in enumerate(starts):
        if match.group() != marker:
            continue
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        value, line = _value(text[match.end() : end])
        if value and line != value:
            repairs.append(f"{value!r} read from {line[:120]!r}")
        found.append(value)
    return found


def _one(
    values: list[str], make: Callable[[str], Action], missing: str, repairs: list[str]
) -> Action:
    if not all(values):
        raise ReplyParseError(missing)
    action = single_action([make(value) for value in values], repairs)
    assert action is not None
    return action


def read_agentclinic_reply(text: str, image_request: CallTool | None, repairs: list[str]) -> Action:
    """`image_request` is what `REQUEST IMAGES` becomes (None: no images can be read)."""
    if DIAGNOSIS_READY in text:
        missing = f"write the diagnosis after {DIAGNOSIS_READY}: on the same line"
        diagnoses = _values(text, DIAGNOSIS_READY, repairs)
        return _one(diagnoses, lambda v: SubmitDiagnosis(diagnosis=v), missing, repairs)
    if REQUEST_TEST in text:
        missing = f"name the test after {REQUEST_TEST}: on the same line"
        return _one(
            _values(text, REQUEST_TEST, repairs), lambda v: OrderTest(test=v), missing, repairs
        )
    if REQUEST_IMAGES in text:
        if image_request is None:
            raise ReplyParseError("no images are available in this encounter")
        return image_request
    question = _SPEAKER.sub("", re.sub(r"[*`#]", "", text)).strip()
    if not question:
        raise ReplyParseError("the reply is empty; ask the patient a question or act")
    return AskPatient(question=question)
