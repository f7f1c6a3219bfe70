"""JSON in a model's reply, read leniently, and the `json` protocol.

Objects are found wherever they are (whole reply, code fences, prose around them, inline
code); each complete `{...}` (or a `[{...}, ...]` list) is decoded strictly first, then as a
Python literal (`ast.literal_eval`, which evaluates nothing), then by `json_repair` (trailing
commas, single quotes, Python literals, comments, unquoted keys). An object that is opened
and never closed was cut off and is not read. What had to be fixed is reported in the
`repairs` list the caller passes in.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import json_repair

from clinsim.agents.llm.parsing.actions import (
    ReplyParseError,
    action_from_call,
    json_value,
    single_action,
)
from clinsim.environments.actions import Action

_NAME_KEYS = ("action", "tool", "name", "function")
_WRAPPER_KEYS = ("tool_call", "function_call", "function")
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")
_IMPLIED = (("diagnosis", "submit_diagnosis"), ("question", "ask_patient"), ("test", "order_test"))
_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", re.S)
_QUOTED = {q: re.compile(rf"{q}(?:\\.|[^{q}\\])*{q}", re.S) for q in "\"'"}
_OPENING = re.compile(r"\{|\[\s*\{")
_FIXES = (
    (re.compile(r",\s*[}\]]"), "trailing comma"),
    (re.compile(r"\b(?:True|False|None)\b"), "Python literal"),
    (re.compile(r"//|/\*|#"), "comment"),
    (re.compile(r"[{,]\s*[A-Za-z_]\w*\s*:"), "unquoted key"),
)


def _close_span(text: str, start: int) -> int | None:
    """End (exclusive) of the bracketed span opened at `start`, or None when it never closes.
    Quotes of both kinds and `//`, `/* */`, `#` comments are skipped."""
    depth, i, n = 0, start, len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            match = _QUOTED[char].match(text, i)
            if match is None:
                return None
            i = match.end()
            continue
        if text.startswith("//", i) or char == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def json_spans(text: str) -> tuple[list[str], bool]:
    """Top-level `{...}` and `[{...}]` spans in order, and whether one was left open (cut off,
    or a stray brace in prose: the search goes on after it)."""
    spans: list[str] = []
    cut_off = False
    i = 0
    while (match := _OPENING.search(text, i)) is not None:
        end = _close_span(text, match.start())
        if end is None:
            cut_off = True
            i = match.start() + 1
            continue
        spans.append(text[match.start() : end])
        i = end
    return spans, cut_off


def cut_off_error(text: str) -> ReplyParseError | None:
    """The error for a reply whose only JSON object never closes."""
    spans, cut_off = json_spans(text)
    if cut_off and not spans:
        return ReplyParseError(
            "the reply ends inside a JSON object (cut off?); send the whole object again"
        )
    return None


def _fixes(span: str) -> list[str]:
    skeleton = _STRING.sub('""', span)
    found = [name for pattern, name in _FIXES if pattern.search(skeleton)]
    if re.search(r"[{\[,:]\s*'", span):
        found.insert(0, "single quotes")
    return found or ["invalid JSON"]


def decode(span: str, repairs: list[str]) -> Any:
    """A JSON value from one span: strict first, then repaired (noted in `repairs`)."""
    try:
        return json.loads(span)
    except ValueError:
        pass
    try:  # a Python literal: single quotes, True/None, trailing commas (never evaluated)
        value = json_value(ast.literal_eval(span), "the object")
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = json_repair.repair_json(span, return_objects=True)
    if value in ("", None):
        return None
    repairs.append("repaired JSON: " + ", ".join(_fixes(span)))
    return value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def json_objects(text: str, repairs: list[str] | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a reply in order of appearance (items of a list of objects count
    one by one); objects that were cut off are left out."""
    notes: list[str] = [] if repairs is None else repairs
    spans, _ = json_spans(text)
    return [obj for span in spans for obj in _objects(decode(span, notes))]


def _arguments(obj: Mapping[str, Any], name_key: str) -> dict[str, Any]:
    arguments = {k: v for k, v in obj.items() if k != name_key and k not in _ARGUMENT_KEYS}
    if arguments.get("type") == "function":
        arguments.pop("type")
    for key in _ARGUMENT_KEYS:
        nested = obj.get(key)
        if isinstance(nested, str):
            nested = decode(nested, []) if nested.strip() else {}
        if isinstance(nested, dict):
            arguments.update(nested)
    return arguments


def actions_from_object(obj: Mapping[str, Any], offered: Collection[str]) -> list[Action]:
    """The actions a decoded object names: usually one, none when it names no action (a
    `{"reasoning": ...}` object), several for a `{"tool_calls": [...]}` list."""
    calls = obj.get("tool_calls")
    if isinstance(calls, list):
        return [a for call in _objects(calls) for a in actions_from_object(call, offered)]
    for key in _WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):  # {"function": {"name": ..., "arguments": ...}}
            return actions_from_object(obj[key], offered)
    for key in _NAME_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return [action_from_call(value, _arguments(obj, key), offered)]
    for key, action in _IMPLIED:
        if key in obj:  # the action name left out: {"diagnosis": "..."}
            return [action_from_call(action, obj, offered)]
    return []


def surroundings(text: str, spans: list[str]) -> list[str]:
    """Notes on what stood around the JSON: code fences, other text."""
    notes = ["code fence"] if "```" in text else []
    rest = text
    for span in spans:
        rest = rest.replace(span, " ", 1)
    if re.search(r"\w", re.sub(r"```\w*", " ", rest)):
        notes.append("text around the JSON")
    return notes


def json_actions(text: str, offered: Collection[str], repairs: list[str]) -> list[Action]:
    """Every action named by the complete JSON objects of `text`."""
    spans, cut_off = json_spans(text)
    actions: list[Action] = []
    for span in spans:
        for obj in _objects(decode(span, repairs)):
            actions += actions_from_object(obj, offered)
    if actions:
        repairs += surroundings(text, spans)
        if cut_off:
            repairs.append("an unfinished JSON object ignored")
    return actions


def read_json_reply(text: str, offered: Collection[str], repairs: list[str]) -> Action:
    """The `json` protocol: exactly one action among the JSON objects of the reply."""
    action = single_action(json_actions(text, offered, repairs), repairs)
    if action is not None:
        return action
    if error := cut_off_error(text):
        raise error
    if json_spans(text)[0]:
        raise ReplyParseError('the JSON object has no "action" field naming what to do')
    raise ReplyParseError('no JSON object found; reply with one object like {"action": ...}')
