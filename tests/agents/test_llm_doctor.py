"""The LLM doctor: prompts rebuilt from the view, one action per turn under each protocol, the
repair loop and its protocol-error ending, images, and the sealed answer key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_fakes import FakeModel, FakePool

from clinsim.agents.llm.doctor import LLMDoctor, image_request
from clinsim.agents.llm.factories import llm_doctor
from clinsim.agents.models.base import (
    ChatResponse,
    ModelError,
    ToolCall,
)
from clinsim.agents.registry import AgentOptions, AgentRequest
from clinsim.environments.actions import (
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
    core_action_specs,
)
from clinsim.environments.events import DoctorReplyRejected, DoctorReplyRepaired, ModelCalled
from clinsim.environments.roles import DoctorView, Exchange, RoleFailure
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import (
    AnswerKey,
    Case,
    ImageRef,
    PatientFacts,
    Provenance,
    Scenario,
)

SECRET = "Zorblaxitis"  # the diagnosis: a token that appears nowhere else


def tool_spec(name: str, properties: dict[str, object]) -> dict[str, object]:
    parameters = {"type": "object", "properties": properties, "required": list(properties)}
    return {
        "type": "function",
        "function": {"name": name, "description": f"The {name} tool.", "parameters": parameters},
    }


EXTRA_TOOLS = [
    tool_spec("query_ehr", {"table": {"type": "string"}}),
    tool_spec("read_image", {"image_id": {"type": "string"}}),
]


def make_scenario(tmp_path: Path) -> Scenario:
    image = tmp_path / "cxr.png"
    image.write_bytes(b"\x89PNG fake")
    case = Case(
        objective="Evaluate the 34-year-old woman with a cough and reach a diagnosis.",
        patient=PatientFacts(demographics="34-year-old woman", symptoms="cough, night sweats"),
        tests={"Chest_X-Ray": "Right upper lobe cavitation"},
        images=[
            ImageRef(id="cxr-1", path=str(image), modality="chest-xray"),
            ImageRef(id="cxr-2", path=str(tmp_path / "missing.png"), modality="chest-xray"),
        ],
    )
    return Scenario(
        id="test/1",
        case=case,
        answer=AnswerKey(diagnosis=SECRET, synonyms=["Zorbla fever"]),
        provenance=Provenance(source="test"),
    )


def make_view(
    history: tuple[Exchange, ...] = (),
    turn: int | None = None,
    images: tuple[ImageRef, ...] = (),
    max_turns: int = 10,
) -> DoctorView:
    return DoctorView(
        scenario_id="test/1",
        episode_id="ep-1",
        objective="Evaluate the 34-year-old woman with a cough and reach a diagnosis.",
        turn=len(history) if turn is None else turn,
        max_turns=max_turns,
        tools=tuple(core_action_specs() + EXTRA_TOOLS),
        history=history,
        images=images,
        seed=7,
    )


def make_doctor(model: FakeModel, tmp_path: Path, **kwargs: object) -> LLMDoctor:
    scenario = make_scenario(tmp_path)
    options = AgentOptions(**kwargs)  # type: ignore[arg-type]
    request = AgentRequest(
        "doctor", model.address, "fake", "doc", scenario, "ep-1", 7, options, FakePool(model)
    )
    return llm_doctor(request)


HISTORY = (
    Exchange(AskPatient(question="What brings you in?"), "A cough for three weeks."),
    Exchange(OrderTest(test="Chest X-ray"), "Right upper lobe cavitation"),
    Exchange(CallTool(tool="read_image", arguments={"image_id": "cxr-1"}), "Opacity.", ("cxr-1",)),
)


# ------------------------------------------------------------------ one action per protocol


async def test_json_protocol_turns_a_reply_into_one_recorded_action(tmp_path: Path) -> None:
    model = FakeModel('```json\n{"action": "order_test", "test": "Sputum culture"}\n```')
    doctor = make_doctor(model, tmp_path)
    turn = await doctor.act(make_view())
    assert turn.action == OrderTest(test="Sputum culture")
    assert turn.failure is None
    [called, read] = turn.events
    assert isinstance(read, DoctorReplyRepaired) and read.repairs == ["code fence"]
    assert isinstance(called, ModelCalled)
    assert (called.role, called.model, called.call_id) == ("doctor", "fake/m", "ep-1:doctor:0")
    assert called.params["seed"] == 7 and called.params["tools"] == []
    assert model.requests[0].tools is None
    assert model.requests[0].context.role == "doctor"


async def test_tools_protocol_sends_the_tools_and_maps_calls(tmp_path: Path) -> None:
    call = ToolCall(id="x", name="query_ehr", arguments={"table": "labs"})
    model = FakeModel(ChatResponse(tool_calls=[call]))
    doctor = make_doctor(model, tmp_path, doctor_protocol="tools")
    view = make_view()
    turn = await doctor.act(view)
    assert turn.action == CallTool(tool="query_ehr", arguments={"table": "labs"})
    assert model.requests[0].tools == list(view.tools)
    called = turn.events[0]
    assert isinstance(called, ModelCalled)
    assert called.tool_calls == [{"id": "x", "name": "query_ehr", "arguments": {"table": "labs"}}]
    assert called.params["tools"] == [
        "ask_patient",
        "order_test",
        "submit_diagnosis",
        "query_ehr",
        "read_image",
    ]


async def test_agentclinic_image_request_reads_the_first_image(tmp_path: Path) -> None:
    model = FakeModel("Let me look. REQUEST IMAGES")
    doctor = make_doctor(model, tmp_path, doctor_protocol="agentclinic")
    turn = await doctor.act(make_view())
    assert turn.action == CallTool(tool="read_image", arguments={"image_id": "cxr-1"})
    system = model.requests[0].messages[0].content
    assert "DIAGNOSIS READY: [diagnosis here]" in system and "REQUEST IMAGES" in system


def test_image_request_needs_the_read_image_tool_and_an_image() -> None:
    image = {"a": ImageRef(id="a")}
    view = make_view()
    assert image_request(view, image) == CallTool(tool="read_image", arguments={"image_id": "a"})
    assert image_request(view, {}) is None
    no_reader = DoctorView("s", "e", "o", 0, 5, tuple(core_action_specs()))
    assert image_request(no_reader, image) is None


# ------------------------------------------------------------------ repairs


async def test_a_reply_in_the_exact_form_records_no_repairs(tmp_path: Path) -> None:
    model = FakeModel('{"action": "ask_patient", "question": "Any fever?"}')
    turn = await make_doctor(model, tmp_path).act(make_view())
    assert turn.action == AskPatient(question="Any fever?")
    assert [e.kind for e in turn.events] == ["model_called"]


async def test_a_messy_reply_is_read_without_a_repair_prompt_and_what_was_fixed_is_recorded(
    tmp_path: Path,
) -> None:
    reply = (
        "<think>Productive cough and fever: a chest film first.</think>\n"
        "Sure! ```json\n{'action': 'order_test', 'test': 'Chest X-ray', 'urgent': True,}\n```"
    )
    model = FakeModel(reply)
    turn = await make_doctor(model, tmp_path).act(make_view())
    assert turn.action == OrderTest(test="Chest X-ray")
    assert len(model.requests) == 1
    called, read = turn.events
    assert isinstance(called, ModelCalled) and called.output == reply  # the raw reply is kept
    assert isinstance(read, DoctorReplyRepaired)
    assert read.repairs == [
        "thinking span set aside",
        "repaired JSON: single quotes, trailing comma, Python literal",
        "code fence",
        "text around the JSON",
    ]


async def test_two_different_actions_get_the_repair_prompt(tmp_path: Path) -> None:
    both = '{"action": "order_test", "test": "ECG"}\n{"action": "order_test", "test": "Troponin"}'
    model = FakeModel(both, '{"action": "order_test", "test": "ECG"}')
    turn = await make_doctor(model, tmp_path).act(make_view())
    assert turn.action == OrderTest(test="ECG")
    rejected = turn.events[1]
    assert isinstance(rejected, DoctorReplyRejected)
    assert "2 different actions" in rejected.error
    assert "send exactly one action per reply" in model.requests[1].messages[-1].content


async def test_a_broken_reply_is_repaired(tmp_path: Path) -> None:
    model = FakeModel("I think we should run some labs.", '{"action": "order_test", "test": "CBC"}')
    doctor = make_doctor(model, tmp_path)
    turn = await doctor.act(make_view())
    assert turn.action == OrderTest(test="CBC")
    kinds = [e.kind for e in turn.events]
    assert kinds == ["model_called", "doctor_reply_rejected", "model_called"]
    rejected = turn.events[1]
    assert isinstance(rejected, DoctorReplyRejected)
    assert rejected.reply == "I think we should run some labs."
    assert "no JSON object" in rejected.error
    second = model.requests[1].messages
    assert second[:-2] == model.requests[0].messages
    assert (second[-2].role, second[-2].content) == (
        "assistant",
        "I think we should run some labs.",
    )
    assert second[-1].role == "user" and "could not be used: no JSON object" in second[-1].content
    assert [e.call_id for e in turn.events if isinstance(e, ModelCalled)] == [
        "ep-1:doctor:0",
        "ep-1:doctor:1",
    ]


async def test_a_rejected_tool_call_is_answered_before_the_repair_prompt(tmp_path: Path) -> None:
    bad = ChatResponse(tool_calls=[ToolCall(id="t1", name="order_test", arguments="{oops")])
    good = ChatResponse(
        tool_calls=[ToolCall(id="t2", name="order_test", arguments={"test": "CBC"})]
    )
    model = FakeModel(bad, good)
    turn = await make_doctor(model, tmp_path, doctor_protocol="tools").act(make_view())
    assert turn.action == OrderTest(test="CBC")
    tail = model.requests[1].messages[-3:]
    assert [m.role for m in tail] == ["assistant", "tool", "user"]
    assert tail[0].tool_calls[0].id == "t1" and tail[1].tool_call_id == "t1"


async def test_repairs_are_bounded_then_the_turn_fails_as_a_protocol_error(tmp_path: Path) -> None:
    model = FakeModel("hmm", "still thinking", "no idea")
    turn = await make_doctor(model, tmp_path).act(make_view())
    assert turn.action is None
    assert turn.failure is TerminationReason.PROTOCOL_ERROR
    assert "after 2 repairs" in turn.detail and "no JSON object" in turn.detail
    assert [e.kind for e in turn.events] == ["model_called", "doctor_reply_rejected"] * 3
    assert len(model.requests) == 3


async def test_repair_attempts_option(tmp_path: Path) -> None:
    model = FakeModel("hmm")
    turn = await make_doctor(model, tmp_path, repair_attempts=0).act(make_view())
    assert turn.failure is TerminationReason.PROTOCOL_ERROR
    assert len(model.requests) == 1


async def test_a_model_error_raises_role_failure_with_every_event_so_far(tmp_path: Path) -> None:
    model = FakeModel("unusable", ModelError("HTTP 500 after 3 tries"))
    with pytest.raises(RoleFailure) as info:
        await make_doctor(model, tmp_path).act(make_view())
    failure = info.value
    assert failure.reason is TerminationReason.MODEL_ERROR
    assert "HTTP 500" in failure.detail
    kinds = [e.kind for e in failure.events]
    assert kinds == ["model_called", "doctor_reply_rejected", "model_called"]
    failed = failure.events[-1]
    assert isinstance(failed, ModelCalled)
    assert failed.error == "HTTP 500 after 3 tries" and failed.call_id == "ep-1:doctor:1"


# ------------------------------------------------------------------ messages


@pytest.mark.parametrize("protocol", ["json", "tools", "agentclinic"])
async def test_messages_are_rebuilt_from_the_view(tmp_path: Path, protocol: str) -> None:
    model = FakeModel('{"action": "ask_patient", "question": "Any fever?"}')
    doctor = make_doctor(model, tmp_path, doctor_protocol=protocol)
    await doctor.act(make_view(HISTORY))
    messages = model.requests[0].messages
    assert messages[0].role == "system"
    assert "Evaluate the 34-year-old woman" in messages[0].content
    text = "\n".join(m.content for m in messages)
    assert "A cough for three weeks." in text and "Right upper lobe cavitation" in text
    assert "[Turn 4 of 10; 7 left.]" in messages[-1].content
    # the same view gives the same prompt: stateless, so replays and forks see what we saw
    again = FakeModel('{"action": "ask_patient", "question": "Any fever?"}')
    await make_doctor(again, tmp_path, doctor_protocol=protocol).act(make_view(HISTORY))
    assert again.requests[0].messages == messages


async def test_json_history_shows_past_actions_in_canonical_form(tmp_path: Path) -> None:
    model = FakeModel('{"action": "ask_patient", "question": "Any fever?"}')
    await make_doctor(model, tmp_path).act(make_view(HISTORY))
    roles = [m.role for m in model.requests[0].messages]
    assert roles == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assistant = [m.content for m in model.requests[0].messages if m.role == "assistant"]
    assert json.loads(assistant[0]) == {"action": "ask_patient", "question": "What brings you in?"}
    assert json.loads(assistant[1]) == {"action": "order_test", "test": "Chest X-ray"}
    assert json.loads(assistant[2]) == {"action": "read_image", "arguments": {"image_id": "cxr-1"}}
    system = model.requests[0].messages[0].content
    assert "- query_ehr(table: string): The query_ehr tool." in system


async def test_tools_history_uses_tool_messages(tmp_path: Path) -> None:
    model = FakeModel(
        ChatResponse(
            text="",
            tool_calls=[ToolCall(id="a", name="ask_patient", arguments={"question": "Hi?"})],
        )
    )
    doctor = make_doctor(model, tmp_path, doctor_protocol="tools")
    await doctor.act(make_view(HISTORY[:2]))
    messages = model.requests[0].messages
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "user",
    ]
    assert messages[2].tool_calls == [
        ToolCall(id="call_0", name="ask_patient", arguments={"question": "What brings you in?"})
    ]
    assert (messages[3].tool_call_id, messages[3].content) == ("call_0", "A cough for three weeks.")


async def test_agentclinic_history_is_dialogue(tmp_path: Path) -> None:
    model = FakeModel("Any fever?")
    doctor = make_doctor(model, tmp_path, doctor_protocol="agentclinic")
    await doctor.act(make_view(HISTORY))
    assistant = [m.content for m in model.requests[0].messages if m.role == "assistant"]
    assert assistant == ["What brings you in?", "REQUEST TEST: Chest X-ray", "REQUEST IMAGES"]


async def test_the_last_turn_asks_for_the_diagnosis(tmp_path: Path) -> None:
    model = FakeModel("DIAGNOSIS READY: Tuberculosis")
    doctor = make_doctor(model, tmp_path, doctor_protocol="agentclinic")
    turn = await doctor.act(make_view(HISTORY, max_turns=4))
    assert turn.action == SubmitDiagnosis(diagnosis="Tuberculosis")
    assert "This is your last turn" in model.requests[0].messages[-1].content


async def test_bias_text_goes_into_the_system_prompt(tmp_path: Path) -> None:
    model = FakeModel('{"action": "ask_patient", "question": "Hi?"}')
    await make_doctor(model, tmp_path, doctor_bias="confirmation").act(make_view())
    assert (
        "initially confident that the patient has cancer" in model.requests[0].messages[0].content
    )


# ------------------------------------------------------------------ images


async def test_images_with_a_local_file_are_attached(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path)
    upfront = tuple(scenario.case.images)
    model = FakeModel('{"action": "ask_patient", "question": "Hi?"}')
    doctor = make_doctor(model, tmp_path)
    await doctor.act(make_view(HISTORY, images=upfront))
    messages = model.requests[0].messages
    path = str(tmp_path / "cxr.png")
    assert messages[1].images == [path]  # cxr-2's file is missing: named, not attached
    assert "cxr-1 (chest-xray), cxr-2 (chest-xray)" in messages[1].content
    assert messages[-1].images == [path]  # shown by read_image
    assert "[Image attached: cxr-1]" in messages[-1].content


async def test_text_only_doctors_get_no_images(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path)
    model = FakeModel('{"action": "ask_patient", "question": "Hi?"}')
    doctor = make_doctor(model, tmp_path, multimodal=False)
    await doctor.act(make_view(HISTORY, images=tuple(scenario.case.images)))
    assert all(not m.images for m in model.requests[0].messages)
    assert "Opacity." in model.requests[0].messages[-1].content


# ------------------------------------------------------------------ the sealed answer key


@pytest.mark.parametrize("protocol", ["json", "tools", "agentclinic"])
async def test_no_doctor_request_contains_the_diagnosis(tmp_path: Path, protocol: str) -> None:
    scenario = make_scenario(tmp_path)
    replies = ["not parseable"] * 2 + ['{"action": "ask_patient", "question": "Hi?"}']
    model = FakeModel(*replies)
    doctor = make_doctor(model, tmp_path, doctor_protocol=protocol, doctor_bias="recency")
    await doctor.act(make_view(HISTORY, images=tuple(scenario.case.images)))
    sent = json.dumps([r.model_dump(mode="json") for r in model.requests])
    assert len(model.requests) >= 1
    assert SECRET.lower() not in sent.lower()
    assert "zorbla" not in sent.lower()


async def test_factory_uses_the_pool_and_options(tmp_path: Path) -> None:
    model = FakeModel()
    pool = FakePool(model)
    options = AgentOptions(doctor_protocol="tools", temperature=0.3, max_tokens=99)
    request = AgentRequest(
        "doctor", "openai/m", "openai", "m", make_scenario(tmp_path), "ep-9", 5, options, pool
    )
    doctor = llm_doctor(request)
    assert pool.asked == ["openai/m"]
    assert (doctor.protocol, doctor.temperature, doctor.max_tokens) == ("tools", 0.3, 99)
    assert doctor.seed == 5 and doctor.model.episode_id == "ep-9"
    assert list(doctor.images) == ["cxr-1", "cxr-2"]
