"""Parsers from a doctor model's reply to exactly one typed action, one per protocol.

- `tools`: OpenAI tool calls. `ask_patient`, `order_test`, `submit_diagnosis` become
  `AskPatient`, `OrderTest`, `SubmitDiagnosis`; any other offered tool becomes `CallTool`. The
  first call of a reply is taken. A reply without tool calls is read as JSON in its content
  (servers without a tool parser put the call there); plain prose is rejected.
- `json`: one JSON object in the content, e.g. `{"action": "order_test", "test": "CBC"}`, found
  inside code fences or prose; `{"action": "query_ehr", "arguments": {...}}` for other tools.
- `agentclinic`: AgentClinic's text protocol. `DIAGNOSIS READY: Y` -> SubmitDiagnosis,
  `REQUEST TEST: X` -> OrderTest, `REQUEST IMAGES` -> the image request the caller supplies
  (reading the case's first image), anything else -> AskPatient with the text.

All functions are pure. A reply no parser can use raises `ReplyParseError`, whose message is
written to be shown to the model in a repair prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from clinsim.agents.models.base import ToolCall
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
_NAME_KEYS = ("action", "tool", "name", "function")
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")
_QUESTION_KEYS = ("question", "text", "message", "content", "query")
_TEST_KEYS = ("test", "test_name", "name", "exam", "examination", "tests")
_DIAGNOSIS_KEYS = ("diagnosis", "final_diagnosis", "dx", "name")
_IMPLIED = (("diagnosis", "submit_diagnosis"), ("question", "ask_patient"), ("test", "order_test"))
_DIFFERENTIAL_KEYS = ("differential", "differential_diagnosis", "differentials", "ddx")


class ReplyParseError(ValueError):
    """A reply that is not one usable action; the message tells the model what to fix."""


# ------------------------------------------------------------------ shared


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
    """A named call with arguments -> the typed action. Other tools must be `offered`."""
    tool = normalise_name(name, offered)
    try:
        if tool == "ask_patient":
            return AskPatient(question=_text_field(arguments, _QUESTION_KEYS, tool))
        if tool == "order_test":
            return OrderTest(test=_text_field(arguments, _TEST_KEYS, tool))
        if tool == "submit_diagnosis":
            diagnosis = _text_field(arguments, _DIAGNOSIS_KEYS, tool)
            return SubmitDiagnosis(diagnosis=diagnosis, differential=_differential(arguments))
        if tool not in offered:
            choices = ", ".join(sorted({*CORE_ACTIONS, *offered}))
            raise ReplyParseError(f"there is no action {name!r}; choose one of: {choices}")
        return CallTool(tool=tool, arguments=dict(arguments))
    except ValidationError as exc:
        raise ReplyParseError(f"invalid arguments for {tool}: {exc.errors()[0]['msg']}") from exc


# ------------------------------------------------------------------ json


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def json_objects(text: str) -> list[dict[str, Any]]:
    """JSON objects in a reply, in order: the whole text, fenced blocks, then any `{...}`."""
    found: list[Any] = [_loads(text.strip())]
    found += [_loads(block) for block in re.findall(r"```[a-zA-Z]*\s*(.*?)```", text, re.S)]
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            found.append(decoder.raw_decode(text, match.start())[0])
        except ValueError:
            continue
    objects: list[dict[str, Any]] = []
    for item in found:
        if isinstance(item, list) and item and isinstance(item[0], dict):
            item = item[0]
        if isinstance(item, dict) and item not in objects:
            objects.append(item)
    return objects


def _arguments(obj: Mapping[str, Any], name_key: str) -> dict[str, Any]:
    arguments = {k: v for k, v in obj.items() if k != name_key and k not in _ARGUMENT_KEYS}
    for key in _ARGUMENT_KEYS:
        nested = obj.get(key)
        if isinstance(nested, str):
            nested = _loads(nested)
        if isinstance(nested, dict):
            arguments.update(nested)
    return arguments


def action_from_object(obj: Mapping[str, Any], offered: Collection[str]) -> Action | None:
    """A decoded JSON object -> action, or None when it names no action at all."""
    for key in _NAME_KEYS:
        value = obj.get(key)
        if isinstance(value, dict):  # {"function": {"name": ..., "arguments": ...}}
            return action_from_object(value, offered)
        if isinstance(value, str) and value.strip():
            return action_from_call(value, _arguments(obj, key), offered)
    for key, action in _IMPLIED:
        if key in obj:  # the action name left out: {"diagnosis": "..."}
            return action_from_call(action, obj, offered)
    return None


def parse_json_reply(text: str, offered: Collection[str]) -> Action:
    objects = json_objects(text)
    if not objects:
        raise ReplyParseError('no JSON object found; reply with one object like {"action": ...}')
    for obj in objects:
        action = action_from_object(obj, offered)
        if action is not None:
            return action
    raise ReplyParseError('the JSON object has no "action" field naming what to do')


# ------------------------------------------------------------------ tools


def parse_tool_reply(text: str, tool_calls: Sequence[ToolCall], offered: Collection[str]) -> Action:
    if tool_calls:
        call = tool_calls[0]
        arguments: Any = call.arguments
        if isinstance(arguments, str):
            arguments = _loads(arguments) if arguments.strip() else {}
        if not isinstance(arguments, dict):
            raise ReplyParseError(f"the arguments of {call.name} must be a JSON object")
        return action_from_call(call.name, arguments, offered)
    if json_objects(text):
        return parse_json_reply(text, offered)
    raise ReplyParseError("call exactly one of the tools; plain text is not an action")


# ------------------------------------------------------------------ agentclinic

_DIAGNOSIS_READY = re.compile(r"\bdiagnosis\s+ready\b\s*[:\-]?(.*)", re.I | re.S)
_REQUEST_TEST = re.compile(r"\brequest\s+test\b\s*[:\-]?(.*)", re.I | re.S)
_REQUEST_IMAGES = re.compile(r"\brequest\s+images?\b", re.I)
_SPEAKER = re.compile(r"^\s*(?:dr\.?\s*agent|doctor)\s*:\s*", re.I)


def _first_line(rest: str) -> str:
    for line in rest.splitlines():
        cleaned = line.strip().strip("[]()\"'").strip()
        cleaned = re.sub(r"[\s.]+$", "", cleaned).strip("[]\"' ")
        if cleaned:
            return cleaned
    return ""


def parse_agentclinic_reply(text: str, image_request: CallTool | None = None) -> Action:
    """AgentClinic's protocol; `image_request` is what `REQUEST IMAGES` becomes (None: no
    images can be read in this encounter)."""
    plain = re.sub(r"[*`#]", "", text).strip()
    if match := _DIAGNOSIS_READY.search(plain):
        diagnosis = _first_line(match.group(1))
        if not diagnosis:
            raise ReplyParseError("write the diagnosis after DIAGNOSIS READY: on the same line")
        return SubmitDiagnosis(diagnosis=diagnosis)
    if match := _REQUEST_TEST.search(plain):
        test = _first_line(match.group(1))
        if not test:
            raise ReplyParseError("name the test after REQUEST TEST: on the same line")
        return OrderTest(test=test)
    if _REQUEST_IMAGES.search(plain):
        if image_request is None:
            raise ReplyParseError("no images are available in this encounter")
        return image_request
    question = _SPEAKER.sub("", plain).strip()
    if not question:
        raise ReplyParseError("the reply is empty; ask the patient a question or act")
    return AskPatient(question=question)


# ------------------------------------------------------------------ dispatch


def parse_reply(
    protocol: Protocol,
    text: str,
    tool_calls: Sequence[ToolCall] = (),
    offered: Collection[str] = CORE_ACTIONS,
    image_request: CallTool | None = None,
) -> Action:
    """A model reply -> one action under `protocol`; raises `ReplyParseError`."""
    if protocol == "tools":
        return parse_tool_reply(text, tool_calls, offered)
    if protocol == "json":
        return parse_json_reply(text, offered)
    return parse_agentclinic_reply(text, image_request)
