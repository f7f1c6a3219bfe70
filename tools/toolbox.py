"""The toolbox of one episode: the run's tools that are available for its case, behind the
encounter's ToolPort. Problems the doctor should see come back as tool errors."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from clinsim.environments.actions import CORE_ACTIONS
from clinsim.tools.base import BaseTool, ToolContext, ToolError, ToolResult, ToolSpec


class ToolBox:
    def __init__(self, ctx: ToolContext, tools: Sequence[BaseTool]):
        self.ctx = ctx
        self.tools = {t.name: t for t in tools if t.available(ctx)}

    def specs(self) -> list[ToolSpec]:
        return [self.tools[name].spec for name in sorted(self.tools)]

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            core = [spec.name for spec in CORE_ACTIONS]
            offered = ", ".join([*core, *sorted(self.tools)])
            return ToolResult(
                text="", error=f"no such tool {name!r} in this encounter (offered: {offered})"
            )
        try:
            return await tool.call(arguments, self.ctx)
        except ToolError as exc:
            return ToolResult(text="", error=str(exc))
