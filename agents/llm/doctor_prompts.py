"""The doctor's messages, rebuilt from the `DoctorView` at every turn (stateless, so replays
and forks see the same prompt): a system prompt for the protocol, an opening message, then
each past (action, observation) exchange as assistant/user (or tool) messages.

Past actions are written back in the protocol's canonical form, so the history also shows
the model the expected reply format. Only the view is read: never the answer key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from clinsim.agents.llm.parsing import CORE_ACTIONS, Protocol
from clinsim.agents.models.base import ChatMessage, ToolCall
from clinsim.agents.models.tool_schema import parameters
from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.roles import DoctorView, Exchange
from clinsim.environments.tool_spec import ToolSpec

IMAGE_TOOL = "read_image"

_JSON_FORMAT = """Reply with exactly one JSON object and nothing else, one of:
{"action": "ask_patient", "question": "<one question for the patient>"}
{"action": "order_test", "test": "<test or examination>"}
{"action": "submit_diagnosis", "diagnosis": "<most likely diagnosis>", \
"differential": ["<next most likely>", "..."]}"""

_TOOLS_FORMAT = (
    "Each reply is exactly one tool call: ask_patient to talk to the patient, order_test for "
    "tests and examinations, the other tools for records and images, and submit_diagnosis "
    "(with an optional differential, most likely first) once you are confident."
)

_AGENTCLINIC_FORMAT = (
    'Request test results with "REQUEST TEST: [test]", for example "REQUEST TEST: '
    'Chest_X-Ray". Once you have decided on a diagnosis, type "DIAGNOSIS READY: [diagnosis '
    'here]". Anything else you write is said to the patient.'
)

_VIGNETTE_FORMAT: dict[Protocol, str] = {
    "json": 'Reply with exactly one JSON object and nothing else: {"action": "submit_diagnosis", '
    '"diagnosis": "<most likely diagnosis>", "differential": ["<next most likely>", "..."]}',
    "tools": "Reply with one call of submit_diagnosis (with an optional differential, most "
    "likely first).",
    "agentclinic": 'Reply with "DIAGNOSIS READY: [diagnosis here]".',
}

REPAIR_FORMAT: dict[Protocol, str] = {
    "json": _JSON_FORMAT,
    "tools": _TOOLS_FORMAT,
    "agentclinic": _AGENTCLINIC_FORMAT,
}


def _signature(spec: ToolSpec) -> str:
    schema = parameters(spec)
    required = set(schema.get("required") or [])
    fields = [
        f"{name}{'' if name in required else '?'}: {field.get('type', 'any')}"
        for name, field in schema["properties"].items()
    ]
    return f"- {spec.name}({', '.join(fields)}): {spec.description.strip()}"


def tool_names(tools: Sequence[ToolSpec]) -> list[str]:
    return [spec.name for spec in tools]


def _json_prompt(view: DoctorView) -> str:
    others = [s for s in view.tools if s.name not in CORE_ACTIONS]
    lines = [_JSON_FORMAT]
    if others:
        lines.append('{"action": "<tool>", "arguments": {...}} for one of these tools:')
        lines += [_signature(spec) for spec in others]
    return "\n".join(lines)


def system_prompt(view: DoctorView, protocol: Protocol, bias: str | None) -> str:
    bias_text = f"\n\n{bias}" if bias else ""
    if view.vignette is not None:
        return (
            "You are a physician. You are given a complete clinical case: the history, the "
            "examination and the test results. You cannot ask questions or order tests: give "
            f"the most likely diagnosis now, in one reply.\n\n{_VIGNETTE_FORMAT[protocol]}"
            f"{bias_text}"
        )
    if protocol == "agentclinic":
        images = (
            ' You may also request medical images of the case with "REQUEST IMAGES".'
            if IMAGE_TOOL in tool_names(view.tools)
            else ""
        )
        return (
            "You are a doctor named Dr. Agent who only responds in the form of dialogue. You are "
            "examining a patient whom you will ask questions in order to understand their "
            f"disease. You may take {view.max_turns} turns in all before you must make a "
            f"decision. {_AGENTCLINIC_FORMAT}{images} Your dialogue is only 1-3 sentences long."
            f"{bias_text}\n\nBelow is all of the information you have. {view.objective}\n\n"
            "Remember, you must discover their disease by asking them questions. You may also "
            "request examinations and tests."
        )
    format_text = _TOOLS_FORMAT if protocol == "tools" else _json_prompt(view)
    return (
        f"You are a physician in a simulated clinical encounter. {view.objective}\n\n"
        "Find the diagnosis by questioning the patient, ordering tests or examinations and "
        f"using the tools you have. You may take {view.max_turns} actions in all; each reply "
        f"is exactly one action.\n\n{format_text}{bias_text}"
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


def render_observation(exchange: Exchange) -> str:
    action, text = exchange.action, exchange.observation
    if isinstance(action, AskPatient):
        return f"Patient: {text}"
    if isinstance(action, OrderTest):
        return f"Result of {action.test}: {text}"
    if isinstance(action, CallTool):
        return f"{action.tool} returned: {text}"
    return text


def _image_note(image_ids: Sequence[str], attached: Mapping[str, str]) -> tuple[str, list[str]]:
    paths = [attached[i] for i in image_ids if i in attached]
    shown = [i for i in image_ids if i in attached]
    note = f"\n[Image{'s' if len(shown) > 1 else ''} attached: {', '.join(shown)}]" if shown else ""
    return note, paths


def _turn_note(view: DoctorView, protocol: Protocol) -> str:
    left = view.turns_left
    note = f"[Turn {view.turn + 1} of {view.max_turns}; {left} left.]"
    if left <= 1:
        submit = "DIAGNOSIS READY: [diagnosis]" if protocol == "agentclinic" else "submit_diagnosis"
        note += f" This is your last turn: give your diagnosis now ({submit})."
    return note


def _opening(view: DoctorView, attached: Mapping[str, str]) -> ChatMessage:
    text = "A patient has come to see you. Begin the consultation."
    if view.vignette is not None:
        text = view.vignette
    if view.images:
        listed = ", ".join(f"{i.id} ({i.modality or 'image'})" for i in view.images)
        text += f"\nImages of the case: {listed}."
    note, paths = _image_note([i.id for i in view.images], attached)
    return ChatMessage(role="user", content=text + note, images=paths)


def _exchange_messages(
    index: int, exchange: Exchange, protocol: Protocol, attached: Mapping[str, str]
) -> list[ChatMessage]:
    note, paths = _image_note(exchange.images, attached)
    action = exchange.action
    if protocol != "tools":
        return [
            ChatMessage(role="assistant", content=render_action(action, protocol)),
            ChatMessage(role="user", content=render_observation(exchange) + note, images=paths),
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


def doctor_messages(
    view: DoctorView, protocol: Protocol, bias: str | None, attached: Mapping[str, str]
) -> list[ChatMessage]:
    """The full message list for this turn. `attached` maps image ids to local files to send."""
    messages = [
        ChatMessage(role="system", content=system_prompt(view, protocol, bias)),
        _opening(view, attached),
    ]
    for index, exchange in enumerate(view.history):
        messages += _exchange_messages(index, exchange, protocol, attached)
    note = _turn_note(view, protocol)
    last = messages[-1]
    if last.role == "user":
        messages[-1] = last.model_copy(update={"content": f"{last.content}\n\n{note}"})
    else:
        messages.append(ChatMessage(role="user", content=note))
    return messages


def repair_messages(
    reply_text: str, tool_calls: Sequence[ToolCall], error: str, protocol: Protocol
) -> list[ChatMessage]:
    """What follows a rejected reply: the reply itself, then what to fix."""
    messages = [ChatMessage(role="assistant", content=reply_text, tool_calls=list(tool_calls))]
    messages += [
        ChatMessage(role="tool", tool_call_id=c.id, name=c.name, content=f"rejected: {error}")
        for c in tool_calls
    ]
    text = f"Your last reply could not be used: {error}.\n{REPAIR_FORMAT[protocol]}"
    messages.append(ChatMessage(role="user", content=text))
    return messages
