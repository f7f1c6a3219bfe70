"""The prompt parts of every role: what each template is for, the variables it receives (each
with an example value, used to try a template before a run and to document it), and what a
replacement must keep for the role's replies to be read.

A part is named `ROLE.PART` (`doctor.system`, `patient.bias`); `ROLE` alone means `ROLE.system`.
The doctor's parts depend on its reply protocol (`json`, `tools`, `agentclinic`): a part may
have a bundled template per protocol, be used with some protocols only, and need different
things under each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ANY = "*"
"""The key of `Part.needs` and `Part.markers` that applies under every protocol."""


@dataclass(frozen=True)
class Variable:
    description: str
    example: Any


@dataclass(frozen=True)
class Part:
    key: str
    summary: str
    variables: Mapping[str, Variable] = field(default_factory=dict)
    needs: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    """Per protocol (or ANY): groups of variables of which the template must use one each."""
    markers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per protocol (or ANY): text the template must contain as written (the reply markers)."""
    used_with: tuple[str, ...] | None = None
    """The protocols the part is used with (None: always)."""
    blocks: bool = False
    """A set of named texts, one `{% block NAME %}` each (the bias texts), not one text."""

    @property
    def role(self) -> str:
        return self.key.partition(".")[0]

    def needed(self, variant: str | None) -> tuple[tuple[str, ...], ...]:
        return self.needs.get(ANY, ()) + (self.needs.get(variant, ()) if variant else ())

    def markers_for(self, variant: str | None) -> tuple[str, ...]:
        return self.markers.get(ANY, ()) + (self.markers.get(variant, ()) if variant else ())

    def used(self, variant: str | None) -> bool:
        return self.used_with is None or variant in self.used_with


_LABS = {
    "name": "get_lab_history",
    "description": "A lab's results over time.",
    "parameters": [
        {"name": "name", "type": "string", "required": True},
        {"name": "limit", "type": "integer", "required": False},
    ],
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        "required": ["name"],
    },
}
_ASK = {
    "name": "ask_patient",
    "description": "Ask the patient one question.",
    "parameters": [{"name": "question", "type": "string", "required": True}],
    "schema": {
        "type": "object",
        "properties": {"question": {"type": "string"}},
        "required": ["question"],
    },
}
_BIAS = Variable(
    "The role's bias text (a named bias's block of the bias template, or the user's own "
    "words), or none.",
    "You are initially confident that the patient has cancer.",
)
_TOOL_ENTRY = (
    "each with name, description, parameters (a list of name, type, required) and schema "
    "(the JSON schema of its arguments)"
)
_VIEW = {
    "objective": Variable(
        "What the doctor is asked to do (the case's objective).",
        "Evaluate the 34-year-old woman with a cough and reach a diagnosis.",
    ),
    "max_turns": Variable("The doctor's turn budget.", 20),
    "turn": Variable("This turn's number, 1 for the first.", 1),
    "turns_left": Variable("Turns left, this one included.", 20),
    "protocol": Variable("The reply protocol: json, tools or agentclinic.", "json"),
    "vignette": Variable(
        "The whole case as one text when it is presented as a vignette (--presentation "
        "vignette), else none.",
        None,
    ),
}
_TOOLS = {
    "tools": Variable(
        f"Every tool the doctor may call, the core actions first, {_TOOL_ENTRY}.", [_ASK, _LABS]
    ),
    "extra_tools": Variable(
        "The tools besides the core actions (ask_patient, order_test, submit_diagnosis), in "
        "the same form as tools.",
        [_LABS],
    ),
    "tool_names": Variable(
        "The names of every tool the doctor may call.",
        ["ask_patient", "order_test", "submit_diagnosis", "get_lab_history", "read_image"],
    ),
}
_JSON_ACTIONS = ("ask_patient", "order_test", "submit_diagnosis")
_AGENTCLINIC_MARKERS = ("REQUEST TEST", "DIAGNOSIS READY")
_FACTS = {"demographics": "34-year-old woman", "symptoms": "cough, night sweats"}
_GRADES = ("exact", "synonym", "more_specific", "less_specific", "related", "wrong")

DOCTOR = (
    Part(
        "doctor.system",
        "The doctor's system prompt: who it is, the case, how to reply.",
        {**_VIEW, **_TOOLS, "bias": _BIAS},
        needs={ANY: (("objective",),), "json": (("tools", "extra_tools"),)},
        markers={"json": _JSON_ACTIONS, "agentclinic": _AGENTCLINIC_MARKERS},
    ),
    Part(
        "doctor.vignette",
        "The doctor's system prompt when the whole case is presented at once (--presentation "
        "vignette; the case itself is the opening message): diagnose in one reply.",
        {**_VIEW, **_TOOLS, "bias": _BIAS},
        markers={"json": ("submit_diagnosis",), "agentclinic": ("DIAGNOSIS READY",)},
    ),
    Part(
        "doctor.opening",
        "The first user message: the patient arrives, or under vignette presentation the "
        "whole case (images shown up front are listed).",
        {
            **_VIEW,
            "images": Variable(
                "Images shown up front, each with id and modality (may be none).",
                [{"id": "cxr-1", "modality": "chest-xray"}],
            ),
        },
    ),
    Part(
        "doctor.observation",
        "What the doctor is told after an action (json and agentclinic protocols; under "
        "tools it is the tool result itself).",
        {
            "action": Variable(
                "The action's kind: ask_patient, order_test or call_tool.", "order_test"
            ),
            "text": Variable("The answer, result or tool output.", "Right upper lobe cavitation"),
            "question": Variable("The question asked (ask_patient), else none.", None),
            "test": Variable("The test ordered (order_test), else none.", "Chest X-ray"),
            "tool": Variable("The tool called (call_tool), else none.", None),
            "arguments": Variable("The tool call's arguments (call_tool), else none.", None),
        },
        needs={ANY: (("text",),)},
        used_with=("json", "agentclinic"),
    ),
    Part(
        "doctor.turn_note",
        "The note that ends each turn's last user message: the turn count, and on the last "
        "turn the request for a diagnosis.",
        dict(_VIEW),
    ),
    Part(
        "doctor.repair",
        "What follows a reply that could not be read: the problem and how to reply.",
        {"error": Variable("What was wrong with the reply.", "the reply names no action"), **_VIEW},
    ),
    Part(
        "doctor.tool_code",
        "How tools are offered to a model whose chat template has no tool support (Gemma's "
        "tool_code blocks); the tools protocol only.",
        {
            "tools": _TOOLS["tools"],
            "definitions": Variable(
                "Every tool as JSON (name, description, parameters), indented.",
                '[\n  {\n    "name": "get_lab_history"\n  }\n]',
            ),
        },
        needs={ANY: (("tools", "definitions"),)},
        used_with=("tools",),
    ),
    Part(
        "doctor.bias",
        "The doctor's named biases, one block each (--doctor-bias NAME picks one).",
        blocks=True,
    ),
)

OTHERS = (
    Part(
        "patient.system",
        "The patient's system prompt: the role and the patient's facts.",
        {
            "profile": Variable(
                "The patient's facts as indented text.",
                "Demographics: 34-year-old woman\nSymptoms: cough, night sweats",
            ),
            "facts": Variable("The patient's facts as data (fields with a value).", _FACTS),
            "bias": _BIAS,
        },
        needs={ANY: (("profile", "facts"),)},
    ),
    Part(
        "patient.strict",
        "Added to the patient's system prompt when a reply that named the diagnosis is "
        "generated again.",
    ),
    Part(
        "patient.bias",
        "The patient's named biases, one block each (--patient-bias NAME picks one).",
        blocks=True,
    ),
    Part(
        "measurement.system",
        "The measurement reader's system prompt: the case's findings and the reply format.",
        {
            "information": Variable(
                "The examination findings and test results as indented text.",
                "Physical examination findings:\n  Chest: crackles\nTest results:\n  CBC: normal",
            ),
            "exam": Variable("The examination findings as data.", {"Chest": "crackles"}),
            "tests": Variable("The test results as data.", {"CBC": "normal"}),
        },
        needs={ANY: (("information", "tests"),)},
        markers={ANY: ("NORMAL READINGS",)},
    ),
    Part(
        "measurement.request",
        "The user message asking for one test's result.",
        {"test": Variable("The test or examination requested.", "Chest X-ray")},
        needs={ANY: (("test",),)},
    ),
    Part("judge.system", "The judge's system prompt."),
    Part(
        "judge.question",
        "The user message asking whether two diagnoses are the same disease.",
        {
            "reference": Variable("The correct diagnosis.", "Pulmonary tuberculosis"),
            "synonyms": Variable("Other accepted names of it (may be none).", ["TB"]),
            "diagnosis": Variable("The doctor's diagnosis.", "Tuberculosis"),
            "differential": Variable("The doctor's other diagnoses, most likely first.", []),
        },
        needs={ANY: (("reference",), ("diagnosis",))},
    ),
    Part("judge.retry", "The user message after a reply that was neither yes nor no."),
    Part(
        "judge.graded_system",
        "The judge's system prompt in graded mode (--agent-option judge.graded=true): the "
        "grades, defined as the rules judge defines them.",
        markers={ANY: _GRADES},
    ),
    Part(
        "judge.graded_retry",
        "The user message, in graded mode, after a reply that named no grade.",
    ),
)

PARTS: dict[str, Part] = {part.key: part for part in (*DOCTOR, *OTHERS)}
ROLES = ("doctor", "patient", "measurement", "judge")


class UnknownPart(ValueError):
    """A prompt key that names no role or part."""


def part_key(key: str) -> str:
    """`ROLE.PART` for a key given as `ROLE.PART` or `ROLE` (the role's system prompt)."""
    key = key.strip()
    full = key if "." in key else f"{key}.system"
    if full in PARTS:
        return full
    role = full.partition(".")[0]
    if role not in ROLES:
        raise UnknownPart(f"prompt {key!r}: no role {role!r} (roles: {', '.join(ROLES)})")
    parts = ", ".join(k for k in PARTS if k.startswith(f"{role}."))
    raise UnknownPart(f"prompt {key!r}: the {role} has no such part (parts: {parts})")


def role_parts(role: str, variant: str | None) -> list[Part]:
    """The parts a role uses under `variant` (the doctor's protocol)."""
    return [p for p in PARTS.values() if p.role == role and p.used(variant)]
