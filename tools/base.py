"""The doctor's toolbox: a tool is a named, described, JSON-schema'd async callable.

Tool names are public API (prompts and stored transcripts depend on them): verb_object.
A tool signals a problem the model should see by raising `ToolError` (or returning a result
with `error` set); any other exception ends the episode with a recorded reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from clinsim.scenarios.model import Case


class ToolError(Exception):
    """A failure the doctor should see as the tool's result ("query refused: ...")."""


class ToolSettings(BaseModel):
    """Run-wide settings tools read; each tool documents the fields it uses."""

    model_config = ConfigDict(extra="allow")

    ehr_db: Path | None = None
    image_model: str | None = None
    image_dir: Path | None = None


class ToolResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    error: str | None = None
    data: JsonValue = None
    images: list[str] = Field(
        default_factory=list, description="Image ids to put in front of the doctor."
    )


@dataclass
class ToolContext:
    """What a tool may see during one episode: the case (never the answer key)."""

    scenario_id: str
    case: Case
    settings: ToolSettings = field(default_factory=ToolSettings)
    resources: dict[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None


class Tool(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]

    def available(self, ctx: ToolContext) -> bool:
        """Whether the doctor is offered this tool in this episode."""
        return True

    @abstractmethod
    async def run(self, arguments: dict[str, JsonValue], ctx: ToolContext) -> ToolResult: ...

    def spec(self) -> dict[str, Any]:
        """OpenAI-style function spec."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


_TOOLS: dict[str, type[Tool]] = {}
T = TypeVar("T", bound=type[Tool])


def register_tool(cls: T) -> T:
    """Class decorator: make a tool available by its name."""
    if cls.name in _TOOLS and _TOOLS[cls.name] is not cls:
        raise ValueError(f"tool {cls.name!r} is already registered")
    _TOOLS[cls.name] = cls
    return cls


def registered_tools() -> dict[str, type[Tool]]:
    _load_builtin_tools()
    return dict(_TOOLS)


# Modules whose import registers built-in tools; imported on first use (some are heavy).
BUILTIN_TOOL_MODULES: list[str] = ["clinsim.tools.imaging.tools", "clinsim.tools.ehr.tools"]


def _load_builtin_tools() -> None:
    import importlib

    for module in BUILTIN_TOOL_MODULES:
        importlib.import_module(module)
