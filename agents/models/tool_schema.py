"""Tool specs as JSON schema, the form chat servers and chat templates take them in.

`parameters(spec)` is the JSON schema of the spec's argument model, tidied for models: no
`title` entries, and an optional argument (`X | None = None`) shown as plain `X`.
`openai_tool(spec)` wraps it as an OpenAI function tool. Only model backends (and prompts that
print a signature) need these; everything else handles `ToolSpec`s.
"""

from __future__ import annotations

from typing import Any

from clinsim.environments.tool_spec import ToolSpec


def _tidy(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {key: _tidy(value) for key, value in schema.items() if key != "title"}
    options = tidy.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        tidy.pop("anyOf")
        (kept,) = [option for option in options if option != {"type": "null"}]
        tidy = {**kept, **tidy}
        if tidy.get("default") is None:
            tidy.pop("default", None)
    return tidy


def parameters(spec: ToolSpec) -> dict[str, Any]:
    """The JSON schema of the spec's arguments (an object schema)."""
    schema: dict[str, Any] = _tidy(spec.arguments.model_json_schema())
    schema.pop("description", None)  # the model's docstring documents code, not the tool
    schema.setdefault("properties", {})
    return schema


def openai_tool(spec: ToolSpec) -> dict[str, Any]:
    """The spec as an OpenAI function tool."""
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": parameters(spec),
        },
    }
