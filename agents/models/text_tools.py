"""Tool calling through text, for chat templates without tool support (Gemma 3 and MedGemma
have no tool tokens).

Following Google's Gemma function-calling guidance, the tool definitions and the call format go
into the system text, past calls are written back as ```` ```tool_code ```` blocks and their
results as ```` ```tool_output ```` blocks, so the model answers with a call in the same form;
the doctor's `tools` parser reads it from the reply text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from clinsim.agents.models.base import ToolCall

TOOL_CODE_INSTRUCTIONS = """You have access to the functions defined below. To call one, \
write one Python-style call with keyword arguments in a tool_code block, for example:
```tool_code
order_test(test="Complete blood count")
```
Call exactly one function per reply and write nothing else when you call one. The result comes \
back to you in a tool_output block."""


def tool_definitions(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Name, description and JSON-schema parameters of each OpenAI-style tool spec."""
    definitions = []
    for spec in tools:
        function = spec.get("function", spec)
        definitions.append(
            {
                "name": function.get("name", ""),
                "description": function.get("description", ""),
                "parameters": function.get("parameters") or {"type": "object", "properties": {}},
            }
        )
    return definitions


def tool_instructions(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system text that offers `tools` to a model without native tool calling."""
    return f"{TOOL_CODE_INSTRUCTIONS}\n\n{json.dumps(tool_definitions(tools), indent=2)}"


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
