"""The toolbox of one episode: the registered tools available for its case, behind the
encounter's ToolPort. Problems the doctor should see come back as tool errors."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import JsonValue

from clinsim.environments.actions import ActionKind
from clinsim.environments.roles import ToolOutcome
from clinsim.tools.base import Tool, ToolContext, ToolError, registered_tools


class ToolBox:
    def __init__(
        self, ctx: ToolContext, tools: list[Tool] | None = None, allow: set[str] | None = None
    ):
        self.ctx = ctx
        candidates = tools if tools is not None else [cls() for cls in registered_tools().values()]
        self.tools = {
            t.name: t for t in candidates if (allow is None or t.name in allow) and t.available(ctx)
        }

    def specs(self) -> list[dict[str, Any]]:
        return [self.tools[name].spec() for name in sorted(self.tools)]

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolOutcome:
        tool = self.tools.get(name)
        if tool is None:
            core = [kind for kind in get_args(ActionKind) if kind != "call_tool"]
            offered = ", ".join([*core, *sorted(self.tools)])
            return ToolOutcome(
                text="", error=f"no such tool {name!r} in this encounter (offered: {offered})"
            )
        try:
            result = await tool.run(arguments, self.ctx)
        except ToolError as exc:
            return ToolOutcome(text="", error=str(exc))
        return ToolOutcome(
            text=result.text, error=result.error, data=result.data, images=list(result.images)
        )
