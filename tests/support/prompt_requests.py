"""Every prompt the LLM agents send, over a spread of inputs: the doctor under each protocol
(views with and without tools, images, history, the last turn, a repair), text tool
instructions, the patient (biases, a leak retry), the measurement reader, the judge (with a
retry) and every bias text. Collected through the agents' factories and entry points only, so
the same collection runs against any implementation of the prompts.

    python tests/support/prompt_requests.py OUT.json.gz    # record
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from episodes import in_episode
from llm_fakes import FakeModel, FakePool
from pydantic import BaseModel, Field

from clinsim.agents.factories import AgentRequest
from clinsim.agents.llm.biases import bias_texts, resolve_bias
from clinsim.agents.llm.factories import llm_doctor, llm_judge, llm_measurement, llm_patient
from clinsim.agents.models.base import ChatResponse, ToolCall
from clinsim.agents.models.hf import template_messages
from clinsim.environments.actions import (
    CORE_ACTIONS,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
)
from clinsim.environments.roles import DoctorView, Exchange
from clinsim.environments.tool_spec import ToolSpec
from clinsim.scenarios.model import AnswerKey, Case, ImageRef, PatientFacts, Provenance, Scenario
from clinsim.scenarios.sets import find_scenario

Collected = dict[str, Any]


class _Query(BaseModel):
    sql: str = Field(description="One SELECT")


class _Labs(BaseModel):
    name: str
    limit: int = 10


class _Image(BaseModel):
    image_id: str


EXTRA = (
    ToolSpec(name="query_ehr", description="  Run one SELECT on the record.\n", arguments=_Query),
    ToolSpec(name="get_lab_history", description="A lab's results over time.", arguments=_Labs),
    ToolSpec(name="get_patient_summary", description="Who the patient is."),
    ToolSpec(name="read_image", description="Read one image of the case.", arguments=_Image),
)


def _scenario(folder: Path) -> Scenario:
    image = folder / "cxr.png"
    image.write_bytes(b"\x89PNG fake")
    case = Case(
        objective="Evaluate the 34-year-old woman with a cough and reach a diagnosis.",
        patient=PatientFacts(
            demographics="34-year-old woman",
            history="Three weeks of cough.",
            symptoms={"Primary_Symptom": "cough", "Secondary_Symptoms": ["night sweats", "fever"]},
            other={"Travel": {"Recent": "abroad", "Where": ["A", "B"]}},
        ),
        exam={"Chest": {"Auscultation": "crackles"}, "Vitals": "T 38.1"},
        tests={"Chest_X-Ray": "Right upper lobe cavitation", "Blood": {"WBC": "12.1"}},
        images=[
            ImageRef(id="cxr-1", path=str(image), modality="chest-xray"),
            ImageRef(id="img-2", path=str(image)),
        ],
    )
    return Scenario(
        id="test/1",
        case=case,
        answer=AnswerKey(diagnosis="Pulmonary tuberculosis", synonyms=["TB", "Phthisis"]),
        provenance=Provenance(source="test"),
    )


HISTORY = (
    Exchange(AskPatient(question="What brings you in?"), "A cough for three weeks."),
    Exchange(OrderTest(test="Chest X-ray"), "Right upper lobe cavitation"),
    Exchange(CallTool(tool="read_image", arguments={"image_id": "cxr-1"}), "Opacity.", ("cxr-1",)),
    Exchange(CallTool(tool="query_ehr", arguments={"sql": "SELECT 1"}), "1 row"),
    Exchange(CallTool(tool="read_image", arguments={"image_id": "img-2"}), "Dots.", ("img-2",)),
)


def _views(scenario: Scenario) -> dict[str, DoctorView]:
    tools = (*CORE_ACTIONS, *EXTRA)

    def view(**fields: Any) -> DoctorView:
        base: dict[str, Any] = {
            "scenario_id": scenario.id,
            "objective": scenario.case.objective,
            "turn": 0,
            "max_turns": 10,
            "tools": tools,
        }
        return DoctorView(**(base | fields))

    return {
        "first": view(),
        "upfront-images": view(images=tuple(scenario.case.images)),
        "core-only": view(tools=CORE_ACTIONS, max_turns=20),
        "history": view(history=HISTORY, turn=5),
        "next-to-last": view(history=HISTORY[:2], turn=8),
        "last": view(history=HISTORY[:2], turn=9),
        "last-ask": view(history=HISTORY[:1], turn=1, max_turns=2),
    }


VALID = {
    "json": '{"action": "ask_patient", "question": "Any fever?"}',
    "agentclinic": "Any fever?",
}


def _valid(protocol: str) -> str | ChatResponse:
    if protocol == "tools":
        call = ToolCall(id="c9", name="ask_patient", arguments={"question": "Any fever?"})
        return ChatResponse(tool_calls=[call])
    return VALID[protocol]


def _broken(protocol: str) -> str | ChatResponse:
    if protocol == "tools":
        calls = [
            ToolCall(id="c7", name="ask_patient", arguments={"question": "Fever?"}),
            ToolCall(id="c8", name="order_test", arguments={"test": "CBC"}),
        ]
        return ChatResponse(text="Let me think.", tool_calls=calls)
    return "REQUEST TEST: CBC\nREQUEST TEST: ESR" if protocol == "agentclinic" else "hmm"


def _dump(requests: list[Any]) -> list[Any]:
    """What a request sends; tool instructions are sent only by templates without tool support
    (collected from `template_messages`)."""
    return [r.model_dump(mode="json", exclude={"tool_instructions"}) for r in requests]


async def _doctor(scenario: Scenario) -> Collected:
    out: Collected = {}
    for protocol in ("json", "tools", "agentclinic"):
        for bias in (None, "recency", "Doctors in this clinic distrust imaging."):
            for name, view in _views(scenario).items():
                if bias is not None and name not in ("first", "history"):
                    continue
                model = FakeModel(_broken(protocol), _valid(protocol))
                settings: dict[str, Any] = {"protocol": protocol, "bias": bias}
                request = AgentRequest("doctor", model.address, scenario, 7, FakePool(model))
                doctor = llm_doctor.build(request, llm_doctor.configure(settings))
                with in_episode():
                    await doctor.act(view)
                key = f"doctor {protocol} {bias} {name}"
                out[key] = _dump(model.requests)
                if protocol == "tools":
                    for number, sent in enumerate(model.requests):
                        out[f"{key} text-tools {number}"] = template_messages(sent, False, False)
    return out


async def _patient(scenarios: list[Scenario]) -> Collected:
    out: Collected = {}
    for scenario in scenarios:
        for bias in (None, "self_diagnosis", "You are in a hurry."):
            leak = f"I think it is {scenario.answer.diagnosis}."
            model = FakeModel(leak, "It hurts.")
            request = AgentRequest("patient", model.address, scenario, 3, FakePool(model))
            patient = llm_patient.build(request, llm_patient.configure({"bias": bias}))
            with in_episode():
                await patient.answer("What brings you in?", [("Hello?", "Hi, doctor.")])
            out[f"patient {scenario.id} {bias}"] = _dump(model.requests)
    return out


async def _measurement_and_judge(scenarios: list[Scenario]) -> Collected:
    out: Collected = {}
    for scenario in scenarios:
        model = FakeModel("RESULTS: fine")
        request = AgentRequest("measurement", model.address, scenario, 3, FakePool(model))
        reader = llm_measurement.build(request, llm_measurement.configure({}))
        with in_episode():
            await reader.report("Chest X-ray")
        out[f"measurement {scenario.id}"] = _dump(model.requests)
        for synonyms in ([], ["A", "B c"]):
            key = scenario.answer.model_copy(update={"synonyms": synonyms})
            for graded in (False, True):
                replies = ("Perhaps.", "Exact: the same." if graded else "Yes, the same.")
                model = FakeModel(*replies)
                request = AgentRequest("judge", model.address, scenario, 3, FakePool(model))
                judge = llm_judge.build(request, llm_judge.configure({"graded": graded}))
                submitted = SubmitDiagnosis(diagnosis="Tuberculosis", differential=["Sarcoid"])
                with in_episode():
                    await judge.judge(submitted, key)
                label = "judge graded" if graded else "judge"
                out[f"{label} {scenario.id} {len(synonyms)}"] = _dump(model.requests)
    return out


def _biases() -> Collected:
    out: Collected = {}
    for name in bias_texts("doctor"):
        out[f"bias doctor {name}"] = resolve_bias("doctor", name)
    for name in bias_texts("patient"):
        out[f"bias patient {name}"] = resolve_bias("patient", name)
    return out


def collect() -> Collected:
    """Every collected prompt, by case name; the temporary folder's path is written TMP."""
    with tempfile.TemporaryDirectory() as folder:
        scenario = _scenario(Path(folder))
        others = [scenario, find_scenario("demo/0001"), find_scenario("agentclinic-medqa/0001")]

        async def everything() -> Collected:
            return (
                await _doctor(scenario)
                | await _patient(others)
                | await _measurement_and_judge(others)
                | _biases()
            )

        collected = asyncio.run(everything())
        text = json.dumps(collected, sort_keys=True).replace(folder, "TMP")
    out: Collected = json.loads(text)
    return out


if __name__ == "__main__":
    text = json.dumps(collect(), indent=1, sort_keys=True) + "\n"
    Path(sys.argv[1]).write_bytes(gzip.compress(text.encode(), mtime=0))
