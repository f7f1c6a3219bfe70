"""The doctor's typed actions. Every protocol (tool calls, JSON, AgentClinic text) parses a
model reply into exactly one of these; routing reads the action's type, never the text.

The core actions are also described as tools (`CORE_ACTIONS`): their argument models are the
actions' own fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue, TypeAdapter

from clinsim.environments.tool_spec import Arguments, ToolSpec


class AskPatientArguments(Arguments):
    question: str = Field(min_length=1)


class OrderTestArguments(Arguments):
    test: str = Field(min_length=1)


class SubmitDiagnosisArguments(Arguments):
    diagnosis: str = Field(min_length=1)
    differential: list[str] = Field(
        default_factory=list, description="Ranked alternatives, most likely first."
    )


class AskPatient(AskPatientArguments):
    kind: Literal["ask_patient"] = "ask_patient"


class OrderTest(OrderTestArguments):
    """A test or a physical examination ("Chest X-ray", "CBC", "Neurological examination")."""

    kind: Literal["order_test"] = "order_test"


class CallTool(Arguments):
    """Any other tool of the doctor's toolbox (`query_ehr`, `read_image`, ...)."""

    kind: Literal["call_tool"] = "call_tool"
    tool: str = Field(min_length=1)
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class SubmitDiagnosis(SubmitDiagnosisArguments):
    kind: Literal["submit_diagnosis"] = "submit_diagnosis"


Action = Annotated[AskPatient | OrderTest | CallTool | SubmitDiagnosis, Field(discriminator="kind")]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)

ASK_PATIENT = ToolSpec(
    name="ask_patient", description="Ask the patient one question.", arguments=AskPatientArguments
)
ORDER_TEST = ToolSpec(
    name="order_test",
    description="Order a test or a physical examination by name (e.g. 'Complete blood count', "
    "'Chest X-ray', 'Neurological examination'). Returns the result.",
    arguments=OrderTestArguments,
)
SUBMIT_DIAGNOSIS = ToolSpec(
    name="submit_diagnosis",
    description="Submit the final diagnosis, optionally with a ranked differential. "
    "Ends the encounter.",
    arguments=SubmitDiagnosisArguments,
)
CORE_ACTIONS: tuple[ToolSpec, ...] = (ASK_PATIENT, ORDER_TEST, SUBMIT_DIAGNOSIS)
"""What every doctor can do, whatever the toolbox holds (tool names are public API)."""
