"""Tool calling through text, for chat templates without tool support (Gemma 3 and MedGemma
have no tool tokens).

Following Google's Gemma function-calling guidance, the tool definitions and the call format go
into the system text (the doctor's `tool_code` prompt template), past calls are written back as
```` ```tool_code ```` blocks and their results as ```` ```tool_output ```` blocks, so the model
answers with a call in the same form; the doctor's `tools` parser reads it from the reply text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from clinsim.agents.models.base import ToolCall
from clinsim.agents.models.tool_schema import parameters
from clinsim.agents.prompts.templates import Template, bundled_template
from clinsim.environments.tool_spec import ToolSpec


def tool_definitions(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Name, description and JSON-schema parameters of each tool spec."""
    return [
        {"name": spec.name, "description": spec.description, "parameters": parameters(spec)}
        for spec in tools
    ]


def tool_instructions(tools: Sequence[ToolSpec], template: Template | None = None) -> str:
    """The system text that offers `tools` to a model without native tool calling: the
    doctor's `tool_code` template (default: the bundled one)."""
    template = template or bundled_template("doctor.tool_code", "tools")
    definitions = tool_definitions(tools)
    return template.render(
        {
            "tools": [tool_entry(spec) for spec in tools],
            "definitions": json.dumps(definitions, indent=2),
        }
    )


@lru_cache(maxsize=1024)
def tool_entry(spec: ToolSpec) -> dict[str, Any]:
    """A tool as prompt templates receive it: name, description (stripped), parameters (name,
    type, required) and schema. Kept per spec (the JSON schema is costly to build every turn);
    templates render in an immutable sandbox, so the dict is never changed."""
    schema = parameters(spec)
    required = set(schema.get("required") or [])
    fields = [
        {"name": name, "type": field.get("type", "any"), "required": name in required}
        for name, field in schema["properties"].items()
    ]
    return {
        "name": spec.name,
        "description": spec.description.strip(),
        "parameters": fields,
        "schema": schema,
    }


def call_text(call: ToolCall) -> str:
    """A past call as the model is asked to write it."""
    arguments = call.arguments
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return f"```tool_code\n{call.name}({arguments})\n```"
    written = ", ".join(f"{name}={value!r}" for name, value in dict(arguments).items())
    return f"```tool_code\n{call.name}({written})\n```"


def output_text(content: str) -> str:
    """A tool's result as the model is shown it."""
    return f"```tool_output\n{content}\n```"
