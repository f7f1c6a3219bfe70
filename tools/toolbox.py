"""The toolbox of one episode: the registered tools available for its case, behind the
encounter's ToolPort. Problems the doctor should see come back as tool errors."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

from clinsim.tools.base import Tool, ToolContext, ToolError, ToolResult, ToolSpec, registered_tools


class ToolBox:
    def __init__(
        self,
        ctx: ToolContext,
        tools: list[Tool[Any]] | None = None,
        allow: set[str] | None = None,
    ):
        self.ctx = ctx
        candidates = tools if tools is not None else [cls() for cls in registered_tools().values()]
        self.tools = {
            t.name: t for t in candidates if (allow is None or t.name in allow) and t.available(ctx)
        }

    def specs(self) -> list[ToolSpec]:
        return [self.tools[name].spec for name in sorted(self.tools)]

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            offered = ", ".join(sorted(self.tools)) or "none"
            return ToolResult(
                text="", error=f"no such tool {name!r} in this encounter (offered: {offered})"
            )
        try:
            return await tool.call(arguments, self.ctx)
        except ToolError as exc:
            return ToolResult(text="", error=str(exc))
