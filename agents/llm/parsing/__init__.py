"""Parsers from a doctor model's reply to exactly one typed action, one per protocol.

- `json`: one JSON object naming the action, e.g. `{"action": "order_test", "test": "CBC"}`,
  read leniently (see `json_reply`); `{"action": "query_ehr", "arguments": {...}}` for other
  tools.
- `tools`: tool calls, structured or written in the text (see `tool_reply`, `tool_code`).
- `agentclinic`: AgentClinic's `REQUEST TEST:` / `DIAGNOSIS READY:` text (see `agentclinic`).

Thinking spans (`<think>`, `<thinking>`, MedGemma's `<unused94>thought ... <unused95>`) are set
aside before any protocol reads the reply. A reply that names several different actions, or
none, raises `ReplyParseError`, whose message is written to be shown to the model in a repair
prompt; a well-formed call of a tool that does not exist becomes that call, which the encounter
answers with a tool error. `read_reply` also says what had to be fixed to read the reply.
All functions are pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from clinsim.agents.llm.parsing.actions import (
    CORE_ACTIONS,
    Protocol,
    ReplyParseError,
    action_from_call,
    normalise_name,
)
from clinsim.agents.llm.parsing.agentclinic import read_agentclinic_reply
from clinsim.agents.llm.parsing.json_reply import json_objects, read_json_reply
from clinsim.agents.llm.parsing.tool_reply import read_tool_reply
from clinsim.agents.models.base import ToolCall
from clinsim.agents.models.thinking import split_thinking
from clinsim.environments.actions import Action, CallTool

__all__ = [
    "CORE_ACTIONS",
    "ParsedReply",
    "Protocol",
    "ReplyParseError",
    "action_from_call",
    "json_objects",
    "normalise_name",
    "parse_agentclinic_reply",
    "parse_json_reply",
    "parse_reply",
    "parse_tool_reply",
    "read_reply",
]


@dataclass(frozen=True)
class ParsedReply:
    """The action of a reply and what had to be set aside or fixed to read it (empty for a
    reply in the protocol's exact form)."""

    action: Action
    repairs: tuple[str, ...] = ()


def read_reply(
    protocol: Protocol,
    text: str,
    tool_calls: Sequence[ToolCall] = (),
    offered: Collection[str] = CORE_ACTIONS,
    image_request: CallTool | None = None,
) -> ParsedReply:
    """A model reply -> one action under `protocol`; raises `ReplyParseError`."""
    reply, thinking = split_thinking(text)
    repairs: list[str] = ["thinking span set aside"] if thinking else []
    if thinking and not reply.strip() and not tool_calls:
        raise ReplyParseError(
            "the reply holds only thinking (cut off?); after thinking, give one action"
        )
    if protocol == "tools":
        action = read_tool_reply(reply, tool_calls, offered, repairs)
    elif protocol == "json":
        action = read_json_reply(reply, offered, repairs)
    else:
        action = read_agentclinic_reply(reply, image_request, repairs)
    return ParsedReply(action=action, repairs=tuple(repairs))


def parse_reply(
    protocol: Protocol,
    text: str,
    tool_calls: Sequence[ToolCall] = (),
    offered: Collection[str] = CORE_ACTIONS,
    image_request: CallTool | None = None,
) -> Action:
    """`read_reply` without the repair notes."""
    return read_reply(protocol, text, tool_calls, offered, image_request).action


def parse_json_reply(text: str, offered: Collection[str]) -> Action:
    return read_reply("json", text, offered=offered).action


def parse_tool_reply(text: str, tool_calls: Sequence[ToolCall], offered: Collection[str]) -> Action:
    return read_reply("tools", text, tool_calls, offered).action


def parse_agentclinic_reply(text: str, image_request: CallTool | None = None) -> Action:
    """AgentClinic's protocol; `image_request` is what `REQUEST IMAGES` becomes (None: no
    images can be read in this encounter)."""
    return read_reply("agentclinic", text, image_request=image_request).action
