"""The doctor's messages, rebuilt from the `DoctorView` at every turn (stateless, so replays
and forks see the same prompt): a system prompt for the protocol, an opening message, then
each past (action, observation) exchange as assistant/user (or tool) messages. The wording is
the doctor's prompt templates' (`clinsim.agents.prompts`: system, opening, observation,
turn_note, repair); the message structure is this module's.

Past actions are written back in the protocol's canonical form, so the history also shows
the model the expected reply format. Only the view is read: never the answer key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clinsim.agents.llm.parsing import CORE_ACTIONS, Protocol
from clinsim.agents.models.base import ChatMessage, ToolCall
from clinsim.agents.models.text_tools import tool_entry
from clinsim.agents.prompts import RolePrompts, bundled_prompts
from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.roles import DoctorView, Exchange
from clinsim.environments.tool_spec import ToolSpec

IMAGE_TOOL = "read_image"


def tool_names(tools: Sequence[ToolSpec]) -> list[str]:
    return [spec.name for spec in tools]


def view_values(view: DoctorView, protocol: Protocol) -> dict[str, Any]:
    """What every doctor template receives from the turn's view."""
    return {
        "objective": view.objective,
        "max_turns": view.max_turns,
        "turn": view.turn + 1,
        "turns_left": view.turns_left,
        "protocol": protocol,
        "vignette": view.vignette,
    }


@dataclass(frozen=True)
class DoctorPrompts:
    """The doctor's templates under its protocol."""

    protocol: Protocol
    templates: RolePrompts

    @classmethod
    def bundled(cls, protocol: Protocol) -> DoctorPrompts:
        return cls(protocol, bundled_prompts("doctor", protocol))

    def render(self, part: str, view: DoctorView, **values: Any) -> str:
        return self.templates.render(part, **view_values(view, self.protocol), **values)


def system_prompt(view: DoctorView, bias: str | None, prompts: DoctorPrompts) -> str:
    """The `system` template's text, or under vignette presentation the `vignette` one's."""
    return prompts.render(
        "system" if view.vignette is None else "vignette",
        view,
        bias=bias,
        tools=[tool_entry(spec) for spec in view.tools],
        extra_tools=[tool_entry(spec) for spec in view.tools if spec.name not in CORE_ACTIONS],
        tool_names=tool_names(view.tools),
    )


def render_action(action: Action, protocol: Protocol) -> str:
    """An action in the protocol's canonical text form (json and agentclinic)."""
    if protocol == "agentclinic":
        if isinstance(action, AskPatient):
            return action.question
        if isinstance(action, OrderTest):
            return f"REQUEST TEST: {action.test}"
        if isinstance(action, SubmitDiagnosis):
            return f"DIAGNOSIS READY: {action.diagnosis}"
        if action.tool == IMAGE_TOOL:
            return "REQUEST IMAGES"
    if isinstance(action, CallTool):
        return json.dumps({"action": action.tool, "arguments": action.arguments})
    payload = action.model_dump(exclude={"kind"})
    if isinstance(action, SubmitDiagnosis) and not action.differential:
        payload.pop("differential")
    return json.dumps({"action": action.kind, **payload})


def render_observation(exchange: Exchange, prompts: RolePrompts) -> str:
    """What the doctor is told after an action (json and agentclinic protocols)."""
    action = exchange.action
    return prompts.render(
        "observation",
        action=action.kind,
        text=exchange.observation,
        question=action.question if isinstance(action, AskPatient) else None,
        test=action.test if isinstance(action, OrderTest) else None,
        tool=action.tool if isinstance(action, CallTool) else None,
        arguments=dict(action.arguments) if isinstance(action, CallTool) else None,
    )


def _image_note(image_ids: Sequence[str], attached: Mapping[str, str]) -> tuple[str, list[str]]:
    paths = [attached[i] for i in image_ids if i in attached]
    shown = [i for i in image_ids if i in attached]
    note = f"\n[Image{'s' if len(shown) > 1 else ''} attached: {', '.join(shown)}]" if shown else ""
    return note, paths


def _opening(view: DoctorView, attached: Mapping[str, str], prompts: DoctorPrompts) -> ChatMessage:
    images = [{"id": i.id, "modality": i.modality} for i in view.images]
    text = prompts.render("opening", view, images=images)
    note, paths = _image_note([i.id for i in view.images], attached)
    return ChatMessage(role="user", content=text + note, images=paths)


def _exchange_messages(
    index: int, exchange: Exchange, prompts: DoctorPrompts, attached: Mapping[str, str]
) -> list[ChatMessage]:
    note, paths = _image_note(exchange.images, attached)
    action, protocol = exchange.action, prompts.protocol
    if protocol != "tools":
        observed = render_observation(exchange, prompts.templates)
        return [
            ChatMessage(role="assistant", content=render_action(action, protocol)),
            ChatMessage(role="user", content=observed + note, images=paths),
        ]
    name = action.tool if isinstance(action, CallTool) else action.kind
    arguments = (
        dict(action.arguments)
        if isinstance(action, CallTool)
        else action.model_dump(exclude={"kind"})
    )
    call = ToolCall(id=f"call_{index}", name=name, arguments=arguments)
    messages = [
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call.id, name=name, content=exchange.observation),
    ]
    if paths:
        messages.append(ChatMessage(role="user", content=note.strip(), images=paths))
    return messages


RenderedHistory = dict[int, tuple[Exchange, dict[str, str], list[ChatMessage]]]
"""Messages already made for the exchanges of an episode, by position: each turn's request
repeats the whole history, and rendering it again made every turn cost more than the last."""


def _history_messages(
    view: DoctorView,
    prompts: DoctorPrompts,
    attached: Mapping[str, str],
    rendered: RenderedHistory,
) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for index, exchange in enumerate(view.history):
        known = rendered.get(index)
        # the same exchange object (views share the state's), sent with the same images
        if known is not None and known[0] is exchange and known[1] == attached:
            part = known[2]
        else:
            part = _exchange_messages(index, exchange, prompts, attached)
            rendered[index] = (exchange, dict(attached), part)
        messages += part
    return messages


def doctor_messages(
    view: DoctorView,
    protocol: Protocol,
    bias: str | None,
    attached: Mapping[str, str],
    prompts: DoctorPrompts | None = None,
    rendered: RenderedHistory | None = None,
) -> list[ChatMessage]:
    """The full message list for this turn. `attached` maps image ids to local files to send;
    `prompts`: the doctor's templates for `protocol` (default: the bundled ones); `rendered`:
    the episode's history messages made at earlier turns, reused and added to."""
    prompts = prompts or DoctorPrompts.bundled(protocol)
    messages = [
        ChatMessage(role="system", content=system_prompt(view, bias, prompts)),
        _opening(view, attached, prompts),
    ]
    messages += _history_messages(view, prompts, attached, {} if rendered is None else rendered)
    note = prompts.render("turn_note", view)
    last = messages[-1]
    if not note:  # a turn note of one's own may say nothing on most turns
        return messages
    if last.role == "user":
        messages[-1] = last.model_copy(update={"content": f"{last.content}\n\n{note}"})
    else:
        messages.append(ChatMessage(role="user", content=note))
    return messages


def repair_messages(
    reply_text: str,
    tool_calls: Sequence[ToolCall],
    error: str,
    view: DoctorView,
    prompts: DoctorPrompts,
) -> list[ChatMessage]:
    """What follows a rejected reply: the reply itself, then what to fix."""
    messages = [ChatMessage(role="assistant", content=reply_text, tool_calls=list(tool_calls))]
    messages += [
        ChatMessage(role="tool", tool_call_id=c.id, name=c.name, content=f"rejected: {error}")
        for c in tool_calls
    ]
    messages.append(ChatMessage(role="user", content=prompts.render("repair", view, error=error)))
    return messages
