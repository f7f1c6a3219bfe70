"""The doctor's typed actions. Every protocol (tool calls, JSON, AgentClinic text) parses a
model reply into exactly one of these; routing reads `kind`, never the text."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AskPatient(_Action):
    kind: Literal["ask_patient"] = "ask_patient"
    question: str = Field(min_length=1)


class OrderTest(_Action):
    """A test or a physical examination ("Chest X-ray", "CBC", "Neurological examination")."""

    kind: Literal["order_test"] = "order_test"
    test: str = Field(min_length=1)


class CallTool(_Action):
    """Any other tool of the doctor's toolbox (`query_ehr`, `read_image`, ...)."""

    kind: Literal["call_tool"] = "call_tool"
    tool: str = Field(min_length=1)
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class SubmitDiagnosis(_Action):
    kind: Literal["submit_diagnosis"] = "submit_diagnosis"
    diagnosis: str = Field(min_length=1)
    differential: list[str] = Field(
        default_factory=list, description="Ranked alternatives, most likely first."
    )


Action = Annotated[AskPatient | OrderTest | CallTool | SubmitDiagnosis, Field(discriminator="kind")]
ActionKind = Literal["ask_patient", "order_test", "call_tool", "submit_diagnosis"]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)


def core_action_specs() -> list[dict[str, object]]:
    """OpenAI-style function specs of the actions every doctor has (tool names are public API)."""

    def spec(
        name: str, description: str, props: dict[str, object], required: list[str]
    ) -> dict[str, object]:
        return {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {"type": "object", "properties": props, "required": required},
            },
        }

    text = {"type": "string"}
    return [
        spec("ask_patient", "Ask the patient one question.", {"question": text}, ["question"]),
        spec(
            "order_test",
            "Order a test or a physical examination by name (e.g. 'Complete blood count', "
            "'Chest X-ray', 'Neurological examination'). Returns the result.",
            {"test": text},
            ["test"],
        ),
        spec(
            "submit_diagnosis",
            "Submit the final diagnosis, optionally with a ranked differential. "
            "Ends the encounter.",
            {"diagnosis": text, "differential": {"type": "array", "items": text}},
            ["diagnosis"],
        ),
    ]
