"""A tool: `read_vitals` reads one vital sign (or all) from the case's examination, and flags a
high blood pressure. Its arguments are a pydantic model, checked before `run` is called."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from clinsim.environments.tool_spec import Arguments
from clinsim.plugins import Config
from clinsim.tools.base import Tool, ToolContext, ToolError, ToolResult, ToolSpec, tool

VITALS = "Vital_Signs"
Sign = Literal["blood_pressure", "heart_rate", "temperature", "respiratory_rate", "all"]


class VitalsArguments(Arguments):
    sign: Sign = Field(default="all", description="Which vital sign to read.")


class VitalsConfig(Config):
    high_systolic: int = Field(default=140, ge=60, description="Flag a systolic BP from here.")


class ReadVitals(Tool[VitalsArguments]):
    spec = ToolSpec(
        name="read_vitals",
        description="Read the patient's vital signs from the examination (blood pressure, heart "
        "rate, temperature, respiratory rate, or all).",
        arguments=VitalsArguments,
    )

    def __init__(self, config: VitalsConfig):
        self.config = config

    def available(self, ctx: ToolContext) -> bool:
        return isinstance(ctx.case.exam.get(VITALS), dict)

    async def run(self, arguments: VitalsArguments, ctx: ToolContext) -> ToolResult:
        vitals = ctx.case.exam.get(VITALS)
        assert isinstance(vitals, dict)
        wanted = {
            key: value
            for key, value in vitals.items()
            if arguments.sign == "all" or key.lower() == arguments.sign
        }
        if not wanted:
            raise ToolError(f"no {arguments.sign.replace('_', ' ')} on record")
        lines = [f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in wanted.items()]
        systolic = re.match(r"\s*(\d+)\s*/", str(wanted.get("Blood_Pressure", "")))
        if systolic and int(systolic.group(1)) >= self.config.high_systolic:
            lines.append(f"Blood pressure is high (systolic >= {self.config.high_systolic}).")
        return ToolResult(text="\n".join(lines))


@tool("read_vitals", config=VitalsConfig)
def read_vitals(config: VitalsConfig) -> ReadVitals:
    """Reads vital signs from the examination and flags a high blood pressure."""
    return ReadVitals(config)
