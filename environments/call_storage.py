"""How events are stored: one JSON payload per event, with model calls kept linear in turns.

A role's requests grow by a few messages a turn (the doctor's and the patient's conversations
repeat everything said before), so storing each `ModelCalled` whole makes an episode's size grow
with the square of its turns. A stored model call therefore keeps only the messages that are new
since the previous call of the same role in the same episode: its payload is the event's JSON
with `messages` cut to the new tail and `messages_prefix` = how many leading messages it shares
with that previous call (absent when it shares none, so such a payload is the event's JSON as
is). Reading walks an episode's calls in the same order and rebuilds every request exactly.

"Previous call of the same role" is the previous `ModelCalled` of that role in the order the
payloads are written and read back (event order for a finished episode, call number for the
calls of an unfinished one); `stored_payloads` and `CallRebuilder` keep that order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from clinsim.environments.events import EVENT_ADAPTER, Event, ModelCalled

PREFIX_KEY = "messages_prefix"
MODEL_CALLED = "model_called"

Messages = list[dict[str, Any]]


def shared_prefix(before: Sequence[dict[str, Any]], now: Sequence[dict[str, Any]]) -> int:
    """How many leading messages `now` has in common with `before`."""
    shared = 0
    for old, new in zip(before, now, strict=False):
        if old != new:
            break
        shared += 1
    return shared


def call_payload(event: ModelCalled, previous: Messages) -> str:
    """A model call's stored JSON: only its messages after those shared with `previous`."""
    shared = shared_prefix(previous, event.messages)
    data = event.model_dump(mode="json")
    data["messages"] = event.messages[shared:]
    if shared:
        data[PREFIX_KEY] = shared
    return json.dumps(data, ensure_ascii=False)


def stored_payloads(events: Iterable[Event]) -> list[str]:
    """The stored JSON of each of an episode's events, in order."""
    previous: dict[str, Messages] = {}
    payloads = []
    for event in events:
        if isinstance(event, ModelCalled):
            payloads.append(call_payload(event, previous.get(event.role, [])))
            previous[event.role] = event.messages
        else:
            payloads.append(event.model_dump_json())
    return payloads


class CallRebuilder:
    """Reads one episode's stored payloads back into events, in the order they were written."""

    def __init__(self) -> None:
        self.previous: dict[str, Messages] = {}

    def event(self, kind: str, payload: str) -> Event:
        if kind != MODEL_CALLED:
            return EVENT_ADAPTER.validate_json(payload)
        return self.call(payload)

    def call(self, payload: str) -> ModelCalled:
        data = json.loads(payload)
        shared = data.pop(PREFIX_KEY, 0)
        role = data.get("role", "")
        if shared:
            data["messages"] = [*self.previous.get(role, [])[:shared], *data.get("messages", [])]
        event = ModelCalled.model_validate(data)
        self.previous[role] = event.messages
        return event


def call_index(event: ModelCalled) -> int:
    """The call's number within its role and episode (the last part of its call id)."""
    return int(event.call_id.rpartition(":")[2])
