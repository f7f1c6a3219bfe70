"""The `tools` protocol: one tool call per reply.

Structured tool calls (OpenAI `tool_calls`) come first; their text content is commentary. A
reply without them is read as text, for backends and servers that return calls in the content
(in-process `hf` models, OpenAI-compatible servers without a tool parser): Python-style calls
(see `tool_code`) and JSON call objects such as `{"name": ..., "arguments": ...}`,
`{"name": ..., "parameters": ...}`, `{"tool_call": {...}}` or `<tool_call>{...}</tool_call>`.
Several different calls in one reply are ambiguous and rejected, never guessed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from clinsim.agents.llm.parsing.actions import ReplyParseError, action_from_call, single_action
from clinsim.agents.llm.parsing.json_reply import cut_off_error, decode, json_actions
from clinsim.agents.llm.parsing.tool_code import text_calls
from clinsim.agents.models.base import ToolCall
from clinsim.environments.actions import Action

NO_CALL = "call exactly one of the tools; plain text is not an action"


def _arguments(call: ToolCall, repairs: list[str]) -> dict[str, Any]:
    arguments: Any = call.arguments
    if isinstance(arguments, str):
        arguments = decode(arguments, repairs) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        raise ReplyParseError(f"the arguments of {call.name} must be a JSON object")
    return arguments


def read_tool_reply(
    text: str, tool_calls: Sequence[ToolCall], offered: Collection[str], repairs: list[str]
) -> Action:
    if tool_calls:
        actions = [
            action_from_call(call.name, _arguments(call, repairs), offered) for call in tool_calls
        ]
    else:
        calls, rest = text_calls(text, offered, repairs)
        actions = [action_from_call(name, arguments, offered) for name, arguments in calls]
        actions += json_actions(rest, offered, repairs)
    action = single_action(actions, repairs)
    if action is None:
        raise cut_off_error(text) or ReplyParseError(NO_CALL)
    return action
