"""Tool specs: verb_object names, arguments checked once against their model, a bad call is a
tool error the doctor sees, and the JSON schema a model is shown."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from pydantic import Field, ValidationError

from clinsim.agents.models.tool_schema import openai_tool, parameters
from clinsim.environments.actions import CORE_ACTIONS, SUBMIT_DIAGNOSIS
from clinsim.environments.tool_spec import Arguments, ToolError, ToolResult, ToolSpec
from clinsim.scenarios.model import Case
from clinsim.tools.base import Tool, ToolContext
from clinsim.tools.toolbox import ToolBox


class DoseArguments(Arguments):
    drug: str = Field(description="Drug name.")
    weight_kg: float = Field(gt=0)
    since: datetime | None = None


class GetDose(Tool[DoseArguments]):
    spec = ToolSpec(name="get_dose", description="A weight-based dose.", arguments=DoseArguments)

    async def run(self, arguments: DoseArguments, ctx: ToolContext) -> ToolResult:
        return ToolResult(text=f"{arguments.drug}: {2 * arguments.weight_kg:g} mg")


def call(arguments: dict[str, object]) -> ToolResult:
    box = ToolBox(ToolContext("s/1", Case(objective="x")), tools=[GetDose()])
    return asyncio.run(box.call("get_dose", arguments))  # type: ignore[arg-type]


def test_names_are_verb_object() -> None:
    for name in ("dose", "GetDose", "get-dose", "get_"):
        with pytest.raises(ValidationError, match="verb_object"):
            ToolSpec(name=name, description="x")
    assert [spec.name for spec in CORE_ACTIONS] == ["ask_patient", "order_test", "submit_diagnosis"]


def test_arguments_are_checked_once_and_typed() -> None:
    assert call({"drug": "amoxicillin", "weight_kg": "20"}).text == "amoxicillin: 40 mg"
    assert GetDose.spec.required == ("drug", "weight_kg")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"weight_kg": 20}, "drug: Field required"),
        ({"drug": "x", "weight_kg": -1}, "weight_kg: Input should be greater than 0"),
        ({"drug": "x", "weight_kg": 1, "route": "iv"}, "route: Extra inputs are not permitted"),
        ({"drug": "x", "weight_kg": 1, "since": "yesterday"}, "since: Input should be a valid"),
    ],
)
def test_a_bad_call_is_a_tool_error_the_doctor_sees(
    arguments: dict[str, object], problem: str
) -> None:
    result = call(arguments)
    assert result.error is not None
    assert result.error.startswith("invalid arguments for get_dose: ")
    assert problem in result.error
    with pytest.raises(ToolError, match="invalid arguments for get_dose"):
        GetDose.spec.parse(arguments)  # type: ignore[arg-type]


def test_the_schema_models_see_is_plain_json_schema() -> None:
    schema = parameters(GetDose.spec)
    assert schema["required"] == ["drug", "weight_kg"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["since"] == {"type": "string", "format": "date-time"}
    assert "title" not in str(schema)
    tool = openai_tool(SUBMIT_DIAGNOSIS)
    assert tool["type"] == "function" and tool["function"]["name"] == "submit_diagnosis"
    differential = tool["function"]["parameters"]["properties"]["differential"]
    assert differential["type"] == "array" and differential["items"] == {"type": "string"}
