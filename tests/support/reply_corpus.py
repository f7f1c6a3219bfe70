"""The labelled corpus of doctor replies (tests/agents/data/doctor_replies.jsonl) and how a
parser is scored on it: the share of unambiguous replies read as the labelled action, and the
ambiguous replies that were (wrongly) turned into an action. See the corpus README."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinsim.agents.models.base import ToolCall
from clinsim.environments.actions import ACTION_ADAPTER, Action, AskPatient, CallTool

CORPUS = Path(__file__).resolve().parents[1] / "agents" / "data" / "doctor_replies.jsonl"
OFFERED = frozenset(
    {
        "ask_patient",
        "order_test",
        "submit_diagnosis",
        "query_ehr",
        "read_image",
        "get_lab_history",
        "get_latest_labs",
    }
)
IMAGE_REQUEST = CallTool(tool="read_image", arguments={"image_id": "img-1"})
AMBIGUOUS = "ambiguous"

Reader = Callable[[str, str, Sequence[ToolCall]], Action]
"""(protocol, reply text, structured tool calls) -> action; raises on an unusable reply."""


@dataclass(frozen=True)
class Reply:
    id: str
    split: str
    protocol: str
    text: str
    tool_calls: tuple[ToolCall, ...]
    expect: Action | None  # None: ambiguous, must not become an action
    style: str
    source: str


def load(path: Path = CORPUS) -> list[Reply]:
    replies = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        calls = tuple(
            ToolCall(id=f"call_{i}", name=c["name"], arguments=c["arguments"])
            for i, c in enumerate(record.get("tool_calls", []))
        )
        expect = record["expect"]
        try:
            action = None if expect == AMBIGUOUS else ACTION_ADAPTER.validate_python(expect)
        except ValueError as exc:
            raise ValueError(f"{path}:{number} ({record.get('id')}): bad 'expect': {exc}") from exc
        replies.append(
            Reply(
                id=record["id"],
                split=record["split"],
                protocol=record["protocol"],
                text=record["reply"],
                tool_calls=calls,
                expect=action,
                style=record["style"],
                source=record["source"],
            )
        )
    return replies


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).split())


def same_action(got: Action, expected: Action) -> bool:
    """Equal actions; a question to the patient compares without markdown and extra spaces."""
    if isinstance(got, AskPatient) and isinstance(expected, AskPatient):
        return _plain(got.question) == _plain(expected.question)
    return got == expected


@dataclass
class Tally:
    unambiguous: int = 0
    correct: int = 0
    ambiguous: int = 0
    guessed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.correct / self.unambiguous if self.unambiguous else 1.0


def score(replies: Sequence[Reply], read: Reader) -> Tally:
    tally = Tally()
    for reply in replies:
        try:
            got: Action | None = read(reply.protocol, reply.text, reply.tool_calls)
            error = ""
        except Exception as exc:  # a parser that raises anything counts as "no action"
            got, error = None, f"{type(exc).__name__}: {exc}"
        if reply.expect is None:
            tally.ambiguous += 1
            if got is not None:
                tally.guessed += 1
                tally.failures.append(f"{reply.id} [{reply.style}] ambiguous, read as {got!r}")
            continue
        tally.unambiguous += 1
        if got is not None and same_action(got, reply.expect):
            tally.correct += 1
        else:
            shown = repr(got) if got is not None else error
            tally.failures.append(f"{reply.id} [{reply.style}] want {reply.expect!r}, got {shown}")
    return tally
