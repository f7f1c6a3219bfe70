"""The doctor's toolbox: a tool is an async callable described by a `ToolSpec` (name,
description, pydantic argument model).

Tool names are public API (prompts and stored transcripts depend on them): verb_object.
Arguments arrive checked against the spec's model. A tool signals a problem the model should see
by raising `ToolError` (or returning a result with `error` set); any other exception ends the
episode with a recorded reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, JsonValue

from clinsim.environments.tool_spec import ToolError, ToolResult, ToolSpec
from clinsim.scenarios.model import Case

__all__ = ["Tool", "ToolContext", "ToolError", "ToolResult", "ToolSettings", "ToolSpec"]


class ToolSettings(BaseModel):
    """Run-wide settings tools read; each tool documents the fields it uses."""

    model_config = ConfigDict(extra="allow")

    ehr_db: Path | None = None
    image_model: str | None = None
    image_dir: Path | None = None


@dataclass
class ToolContext:
    """What a tool may see during one episode: the case (never the answer key)."""

    scenario_id: str
    case: Case
    settings: ToolSettings = field(default_factory=ToolSettings)
    resources: dict[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None


A = TypeVar("A", bound=BaseModel)


class Tool(ABC, Generic[A]):
    """A tool whose arguments are an `A` (the model named by `spec.arguments`)."""

    spec: ClassVar[ToolSpec]

    @property
    def name(self) -> str:
        return self.spec.name

    def available(self, ctx: ToolContext) -> bool:
        """Whether the doctor is offered this tool in this episode."""
        return True

    @abstractmethod
    async def run(self, arguments: A, ctx: ToolContext) -> ToolResult: ...

    async def call(self, raw: Mapping[str, JsonValue], ctx: ToolContext) -> ToolResult:
        """Check `raw` against the spec (a `ToolError` when it does not fit), then run."""
        return await self.run(cast(A, self.spec.parse(raw)), ctx)


_TOOLS: dict[str, type[Tool[Any]]] = {}
T = TypeVar("T", bound=type[Tool[Any]])


def register_tool(cls: T) -> T:
    """Class decorator: make a tool available by its name."""
    name = cls.spec.name
    if name in _TOOLS and _TOOLS[name] is not cls:
        raise ValueError(f"tool {name!r} is already registered")
    _TOOLS[name] = cls
    return cls


def registered_tools() -> dict[str, type[Tool[Any]]]:
    _load_builtin_tools()
    return dict(_TOOLS)


# Modules whose import registers built-in tools; imported on first use (some are heavy).
BUILTIN_TOOL_MODULES: list[str] = ["clinsim.tools.imaging.tools", "clinsim.tools.ehr.tools"]


def _load_builtin_tools() -> None:
    import importlib

    for module in BUILTIN_TOOL_MODULES:
        importlib.import_module(module)
