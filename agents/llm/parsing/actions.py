"""From a named call with arguments (however a protocol found it) to one typed action, and the
rule for replies holding several: identical actions count once, different ones are ambiguous
and are never guessed."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from clinsim.environments.actions import (
    Action,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
)

Protocol = Literal["json", "tools", "agentclinic"]
CORE_ACTIONS = ("ask_patient", "order_test", "submit_diagnosis")

_ALIASES = {
    "ask": "ask_patient",
    "ask_question": "ask_patient",
    "question": "ask_patient",
    "order": "order_test",
    "order_exam": "order_test",
    "request_test": "order_test",
    "test": "order_test",
    "diagnose": "submit_diagnosis",
    "diagnosis": "submit_diagnosis",
    "final_diagnosis": "submit_diagnosis",
    "submit": "submit_diagnosis",
}
PRIMARY_FIELD = {"ask_patient": "question", "order_test": "test", "submit_diagnosis": "diagnosis"}
_QUESTION_KEYS = ("question", "text", "message", "content", "query")
_TEST_KEYS = ("test", "test_name", "name", "exam", "examination", "tests")
_DIAGNOSIS_KEYS = ("diagnosis", "final_diagnosis", "dx", "name")
_DIFFERENTIAL_KEYS = ("differential", "differential_diagnosis", "differentials", "ddx")
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ReplyParseError(ValueError):
    """A reply that is not one usable action; the message tells the model what to fix."""


def json_value(value: Any, where: str) -> Any:
    """A Python literal as JSON data (tuples become lists); raises `ReplyParseError` for what
    JSON cannot hold (sets, bytes, complex numbers, non-string keys)."""
    if isinstance(value, tuple | list):
        return [json_value(item, where) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ReplyParseError(f"{where}: dictionary keys must be strings")
        return {key: json_value(item, where) for key, item in value.items()}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise ReplyParseError(f"{where}: {type(value).__name__} values are not accepted")


def _pick(arguments: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if arguments.get(key) not in (None, "", []):
            return arguments[key]
    return None


def _text_field(arguments: Mapping[str, Any], keys: Sequence[str], action: str) -> str:
    value = _pick(arguments, keys)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, list):
        raise ReplyParseError(f"{action} takes one {keys[0]}, not a list; send one per reply")
    if not isinstance(value, str | int | float) or not str(value).strip():
        raise ReplyParseError(f"{action} needs a non-empty {keys[0]!r} text field")
    return str(value).strip()


def _differential(arguments: Mapping[str, Any]) -> list[str]:
    value = _pick(arguments, _DIFFERENTIAL_KEYS)
    if value is None:
        return []
    items = re.split(r"[;\n]|,(?![^()]*\))", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ReplyParseError("'differential' must be a list of diagnoses, most likely first")
    return [str(item).strip() for item in items if str(item).strip()]


def normalise_name(name: str, offered: Collection[str]) -> str:
    """An action name as the model wrote it -> a tool name (aliases only for the core actions)."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    if key in offered or key in CORE_ACTIONS:
        return key
    return _ALIASES.get(key, key)


def action_from_call(name: str, arguments: Mapping[str, Any], offered: Collection[str]) -> Action:
    """A named call with arguments -> the typed action.

    A name that is neither a core action nor `offered` but is written like a tool name
    (`consult_cardiology`) becomes a `CallTool` for it: the encounter answers it with a tool
    error the model sees ("no such tool"). Anything else names no action and is rejected.
    """
    tool = normalise_name(name, offered)
    try:
        if tool == "ask_patient":
            return AskPatient(question=_text_field(arguments, _QUESTION_KEYS, tool))
        if tool == "order_test":
            return OrderTest(test=_text_field(arguments, _TEST_KEYS, tool))
        if tool == "submit_diagnosis":
            diagnosis = _text_field(arguments, _DIAGNOSIS_KEYS, tool)
            return SubmitDiagnosis(diagnosis=diagnosis, differential=_differential(arguments))
        if tool not in offered and not _TOOL_NAME.fullmatch(name.strip()):
            choices = ", ".join(sorted({*CORE_ACTIONS, *offered}))
            raise ReplyParseError(f"there is no action {name!r}; choose one of: {choices}")
        return CallTool(tool=tool, arguments=dict(arguments))
    except ValidationError as exc:
        raise ReplyParseError(f"invalid arguments for {tool}: {exc.errors()[0]['msg']}") from exc


def describe(action: Action) -> str:
    """A short form of an action for error messages: `order_test('CBC')`."""
    if isinstance(action, CallTool):
        return f"{action.tool}(...)"
    field = PRIMARY_FIELD[action.kind]
    return f"{action.kind}({getattr(action, field)!r})"


def single_action(actions: Sequence[Action], repairs: list[str]) -> Action | None:
    """The one action of a reply: None when there is none; repeats of the same action count
    once (noted in `repairs`); several different actions raise `ReplyParseError`."""
    distinct: list[Action] = []
    for action in actions:
        if action not in distinct:
            distinct.append(action)
    if len(distinct) > 1:
        listed = ", ".join(describe(action) for action in distinct)
        raise ReplyParseError(
            f"the reply holds {len(distinct)} different actions ({listed}); send exactly one "
            "action per reply"
        )
    if len(actions) > 1:
        repairs.append(f"the same action written {len(actions)} times, read once")
    return distinct[0] if distinct else None
