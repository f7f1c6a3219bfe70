"""Topics a question can be bound to, and the facts that may answer it.

Most questions ("Do you have a fever?", "When did it start?") may be answered from anywhere in
the patient's own story. Some are bound to one topic: a question about the family is answered
only from the family history (or a sentence elsewhere that speaks of the family), a question
about smoking only from a fact that mentions smoking, wherever it is written. When no fact of
the topic exists the patient says it is not sure, rather than offering a fact of another topic
("Any family history of illness?" is never answered from the patient's own admissions).

The topics live in `clinsim/agents/data/patient_lexicon.json` (`topics`): a question pattern,
the fields that belong to the topic as a whole, a `marker` pattern that makes a fact of another
field belong to it, `residual` (social-history facts that name no other topic also belong:
"Retired bus driver." answers "What do you do for work?") and `overrides` (a family question
that mentions allergies is a family question). The family history answers nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

FAMILY_FIELD = "family_history"
SOCIAL_FIELD = "social_history"


class _Unit(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Topic:
    name: str
    question: re.Pattern[str]
    fields: tuple[str, ...]
    marker: re.Pattern[str] | None
    residual: bool
    overrides: tuple[str, ...]


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    path = resources.files("clinsim.agents").joinpath("data", "patient_lexicon.json")
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Topic(
            name=item["name"],
            question=re.compile(item["pattern"]),
            fields=tuple(item.get("fields", ())),
            marker=re.compile(item["marker"], re.IGNORECASE) if item.get("marker") else None,
            residual=bool(item.get("residual", False)),
            overrides=tuple(item.get("overrides", ())),
        )
        for item in raw["topics"]
    )


_CLAUSE = re.compile(r"[?;.]|,\s*(?:and|or)\b|\b(?:and|or) (?=do|are|have|what|any|how)")


def question_topics(question: str) -> list[Topic]:
    """The topics `question` is bound to (none: an open question about the patient's story).
    Each clause counts on its own: "What medications do you take, and do you have any
    allergies?" is about both, "Are you allergic to any medications?" about allergies."""
    bound: list[Topic] = []
    for clause in _CLAUSE.split(question.lower()):
        found = [topic for topic in topics() if topic.question.search(clause)]
        overridden = {name for topic in found for name in topic.overrides}
        bound += [t for t in found if t.name not in overridden and t not in bound]
    return bound


def _in_fields(unit: _Unit, fields: Sequence[str]) -> bool:
    return unit.field in fields or any(unit.path.startswith(f"{f}.") for f in fields)


def _names_a_topic(unit: _Unit) -> bool:
    return any(t.marker is not None and t.marker.search(unit.text) for t in topics())


def belongs(unit: _Unit, topic: Topic) -> bool:
    """Whether `unit` may answer a question bound to `topic`."""
    if unit.field == FAMILY_FIELD and topic.name != "family":
        return False
    if _in_fields(unit, topic.fields):
        return True
    if topic.marker is not None and topic.marker.search(unit.text):
        return True
    return topic.residual and unit.field == SOCIAL_FIELD and not _names_a_topic(unit)


def allowed(question: str, units: Sequence[_Unit]) -> tuple[bool, list[bool]]:
    """(whether the question is bound to topics, which units may answer it). An open question
    may be answered by any unit but the family history's."""
    bound = question_topics(question)
    if not bound:
        return False, [unit.field != FAMILY_FIELD for unit in units]
    return True, [any(belongs(unit, topic) for topic in bound) for unit in units]
