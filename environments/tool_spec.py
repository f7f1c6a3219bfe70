"""What the doctor can call, described once: a name, a description and a pydantic model of the
arguments. The core actions (`ask_patient`, `order_test`, `submit_diagnosis`) and every tool of
the toolbox are described this way; the doctor sees them in `DoctorView.tools`.

Tool names are public API (prompts and stored transcripts depend on them): verb_object, lower
case. Arguments are checked against the model once, when the tool is called; a check that fails
is a `ToolError`, which the doctor sees as the tool's result. Model backends turn a spec into
their own wire format (OpenAI JSON schema); nothing below them does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_serializer,
    field_validator,
)

TOOL_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")


class ToolError(Exception):
    """A failure the doctor should see as the tool's result ("query refused: ...")."""


class Arguments(BaseModel):
    """Base of argument models: unknown arguments are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArguments(Arguments):
    """A tool that takes no arguments."""


class ToolSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    arguments: type[BaseModel] = NoArguments

    @field_validator("name")
    @classmethod
    def _verb_object(cls, name: str) -> str:
        if not TOOL_NAME.fullmatch(name):
            raise ValueError(f"tool name {name!r} is not verb_object (e.g. get_allergies)")
        return name

    @field_serializer("arguments")
    def _schema(self, arguments: type[BaseModel]) -> dict[str, Any]:
        """Written out (logs, JSON dumps) as the arguments' JSON schema."""
        return arguments.model_json_schema()

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the arguments a call must give."""
        return tuple(n for n, f in self.arguments.model_fields.items() if f.is_required())

    def parse(self, raw: Mapping[str, JsonValue]) -> BaseModel:
        """The arguments of a call, checked; a `ToolError` says what is wrong."""
        try:
            return self.arguments.model_validate(dict(raw))
        except ValidationError as exc:
            raise ToolError(f"invalid arguments for {self.name}: {describe(exc)}") from None


def describe(error: ValidationError) -> str:
    """A validation error as one line per problem: `field: message`."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


class ToolResult(BaseModel):
    """What a tool call gives back: text for the doctor, or an error the doctor sees."""

    model_config = ConfigDict(extra="forbid")

    text: str
    error: str | None = None
    data: JsonValue = None
    images: list[str] = Field(
        default_factory=list, description="Image ids to put in front of the doctor."
    )
