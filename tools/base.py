"""The doctor's toolbox: a tool is an async callable described by a `ToolSpec` (name,
description, pydantic argument model), built once per run from its configuration.

Tools are declared in the `clinsim.tools` entry-point group by a factory `config -> tool`:

    @tool("get_allergies")
    def get_allergies(config: NoConfig) -> GetAllergies:
        return GetAllergies()

Tool names are public API (prompts and stored transcripts depend on them): verb_object.
Arguments arrive checked against the spec's model. A tool signals a problem the model should see
by raising `ToolError` (or returning a result with `error` set); any other exception ends the
episode with a recorded reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel, JsonValue

from clinsim.environments.tool_spec import ToolError, ToolResult, ToolSpec
from clinsim.plugins import Factory, NoConfig, Registry, factory, factory_of
from clinsim.scenarios.model import Case

__all__ = [
    "TOOLS",
    "BaseTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ToolSpec",
    "builtin_tools",
    "tool",
]


@dataclass
class ToolContext:
    """What a tool may see during one episode: the case (never the answer key)."""

    scenario_id: str
    case: Case
    resources: dict[str, Any] = field(default_factory=dict)
    """Shared by the run's tools across episodes (opened models, caches)."""
    base_dir: Path | None = None
    source: str = ""
    """The scenario's provenance source (its set), e.g. `mimic-iv-demo`."""


class BaseTool(ABC):
    """What the toolbox needs of a tool: its spec, when it is offered, and a call."""

    spec: ClassVar[ToolSpec]

    @property
    def name(self) -> str:
        return self.spec.name

    def available(self, ctx: ToolContext) -> bool:
        """Whether the doctor is offered this tool in this episode."""
        return True

    @abstractmethod
    async def call(self, raw: Mapping[str, JsonValue], ctx: ToolContext) -> ToolResult:
        """Check the arguments and run; `ToolError` for what the doctor should see."""


A = TypeVar("A", bound=BaseModel)


class Tool(BaseTool, Generic[A]):
    """A tool whose arguments are an `A` (the model named by `spec.arguments`)."""

    @abstractmethod
    async def run(self, arguments: A, ctx: ToolContext) -> ToolResult: ...

    async def call(self, raw: Mapping[str, JsonValue], ctx: ToolContext) -> ToolResult:
        """Check `raw` against the spec (a `ToolError` when it does not fit), then run."""
        return await self.run(cast(A, self.spec.parse(raw)), ctx)


GROUP = "clinsim.tools"
TOOLS: Registry[Factory[None, BaseTool]] = Registry(GROUP, "tool", factory_of(GROUP))
"""Every installed tool, by name."""

C = TypeVar("C", bound=BaseModel)


class ToolDecorator(Protocol):
    def __call__(self, build: Callable[[C], BaseTool]) -> Factory[None, BaseTool]: ...


def tool(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> ToolDecorator:
    """Decorator: declare the factory `config -> tool` of the tool called `name`."""

    def decorate(build: Callable[[C], BaseTool]) -> Factory[None, BaseTool]:
        def make(_: None, settings: C) -> BaseTool:
            made = build(settings)
            if made.spec.name != name:
                raise TypeError(f"tool factory {name!r} built a tool called {made.spec.name!r}")
            return made

        text = description if description is not None else (build.__doc__ or "")
        return factory(GROUP, name, config, text)(make)

    return decorate


def builtin_tools() -> list[str]:
    """The tools clinsim itself ships (the default toolbox of a run)."""
    return [entry.name for entry in TOOLS.installed() if entry.distribution == "clinsim"]
