"""The doctor's reply parsers: each protocol on good, odd and broken replies."""

from __future__ import annotations

import pytest

from clinsim.agents.llm.parsing import (
    Protocol,
    ReplyParseError,
    json_objects,
    parse_agentclinic_reply,
    parse_json_reply,
    parse_reply,
    parse_tool_reply,
)
from clinsim.agents.models.base import ToolCall
from clinsim.environments.actions import AskPatient, CallTool, OrderTest, SubmitDiagnosis

OFFERED = {"ask_patient", "order_test", "submit_diagnosis", "query_ehr", "read_image"}
READ_FIRST = CallTool(tool="read_image", arguments={"image_id": "img-1"})

# ------------------------------------------------------------------ json


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"action": "ask_patient", "question": "Any fever?"}', AskPatient(question="Any fever?")),
        ('{"action": "order_test", "test": "Chest X-ray"}', OrderTest(test="Chest X-ray")),
        (
            '{"action": "submit_diagnosis", "diagnosis": "Pneumonia", '
            '"differential": ["Bronchitis", "TB"]}',
            SubmitDiagnosis(diagnosis="Pneumonia", differential=["Bronchitis", "TB"]),
        ),
        (
            '```json\n{"action": "order_test", "test": "CBC"}\n```',
            OrderTest(test="CBC"),
        ),
        (
            'I will order a blood count now.\n{"action": "order_test", "test": "CBC"}\nThanks.',
            OrderTest(test="CBC"),
        ),
        ('{"action": "Order Test", "test": "ECG"}', OrderTest(test="ECG")),
        ('{"action": "order-test", "name": "ECG"}', OrderTest(test="ECG")),
        ('{"action": "diagnose", "dx": "Gout"}', SubmitDiagnosis(diagnosis="Gout")),
        ('{"diagnosis": "Gout"}', SubmitDiagnosis(diagnosis="Gout")),
        ('{"question": "Where does it hurt?"}', AskPatient(question="Where does it hurt?")),
        (
            '{"name": "order_test", "arguments": {"test": "Lipase"}}',
            OrderTest(test="Lipase"),
        ),
        (
            '{"name": "order_test", "arguments": "{\\"test\\": \\"Lipase\\"}"}',
            OrderTest(test="Lipase"),
        ),
        (
            '{"type": "function", "function": {"name": "ask_patient", '
            '"arguments": {"question": "Any rash?"}}}',
            AskPatient(question="Any rash?"),
        ),
        (
            '{"action": "query_ehr", "arguments": {"table": "labs", "limit": 5}}',
            CallTool(tool="query_ehr", arguments={"table": "labs", "limit": 5}),
        ),
        (
            '{"action": "query_ehr", "table": "labs"}',
            CallTool(tool="query_ehr", arguments={"table": "labs"}),
        ),
        (
            '{"action": "submit_diagnosis", "diagnosis": "Asthma", '
            '"differential": "COPD, heart failure (left-sided, acute); GERD"}',
            SubmitDiagnosis(
                diagnosis="Asthma",
                differential=["COPD", "heart failure (left-sided, acute)", "GERD"],
            ),
        ),
        ('[{"action": "order_test", "test": "CBC"}]', OrderTest(test="CBC")),
        ('{"action": "order_test", "test": ["CBC"]}', OrderTest(test="CBC")),
        (
            '{"note": "thinking"} then {"action": "ask_patient", "question": "Age?"}',
            AskPatient(question="Age?"),
        ),
    ],
)
def test_json_protocol_reads_one_action(reply: str, expected: object) -> None:
    assert parse_json_reply(reply, OFFERED) == expected


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "no JSON object"),
        ("I think this is pneumonia.", "no JSON object"),
        ('{"action": "order_test"', "cut off"),  # truncated
        ('{"thoughts": "hmm"}', 'no "action" field'),
        ('{"action": "order_test", "test": ""}', "non-empty 'test'"),
        ('{"action": "order_test", "test": ["CBC", "ECG"]}', "one per reply"),
        ('{"action": "ask_patient"}', "non-empty 'question'"),
        ('{"action": "submit_diagnosis", "differential": ["A"]}', "non-empty 'diagnosis'"),
        ('{"action": "submit_diagnosis", "diagnosis": "A", "differential": 3}', "list"),
        ('{"action": "Chest x ray now"}', "there is no action 'Chest x ray now'"),
        (
            '{"action": "order_test", "test": "ECG"} {"action": "ask_patient", "question": "?"}',
            "2 different actions",
        ),
        (
            '[{"action": "order_test", "test": "CBC"}, {"action": "order_test", "test": "CRP"}]',
            "2 different actions",
        ),
    ],
)
def test_json_protocol_rejects_broken_replies(reply: str, message: str) -> None:
    with pytest.raises(ReplyParseError, match=message):
        parse_json_reply(reply, OFFERED)


def test_a_name_that_is_no_action_gets_the_list_of_actions() -> None:
    with pytest.raises(ReplyParseError) as info:
        parse_json_reply('{"action": "x-ray now please"}', OFFERED)
    for name in sorted(OFFERED):
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("protocol", "reply"),
    [
        ("json", '{"action": "fly_away"}'),
        ("json", '{"action": "fly_away", "arguments": {"to": "Paris"}}'),
        ("tools", '```tool_code\nfly_away(to="Paris")\n```'),
    ],
)
def test_an_unknown_tool_written_as_a_tool_call_goes_to_the_toolbox(
    protocol: Protocol, reply: str
) -> None:
    # the encounter answers it with a "no such tool" error the model sees, as for any call
    action = parse_reply(protocol, reply, offered=OFFERED)
    assert isinstance(action, CallTool) and action.tool == "fly_away"


def test_json_objects_finds_fenced_and_embedded_objects_in_order() -> None:
    text = 'a {"a": 1} b ```json\n{"b": 2}\n``` c {"c": 3'
    assert json_objects(text) == [{"a": 1}, {"b": 2}]  # the unfinished third one is left out


# ------------------------------------------------------------------ tools


def call(name: str, arguments: dict[str, object] | str, id: str = "c1") -> ToolCall:
    return ToolCall(id=id, name=name, arguments=arguments)


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([call("ask_patient", {"question": "Any pain?"})], AskPatient(question="Any pain?")),
        ([call("order_test", {"test": "MRI brain"})], OrderTest(test="MRI brain")),
        (
            [call("submit_diagnosis", {"diagnosis": "Migraine", "differential": ["Cluster"]})],
            SubmitDiagnosis(diagnosis="Migraine", differential=["Cluster"]),
        ),
        (
            [call("query_ehr", {"table": "labs"})],
            CallTool(tool="query_ehr", arguments={"table": "labs"}),
        ),
        (
            [call("read_image", '{"image_id": "img-1"}')],
            CallTool(tool="read_image", arguments={"image_id": "img-1"}),
        ),
        ([call("order_test", '{"test": "CBC"}')], OrderTest(test="CBC")),
        (  # the same call twice is one action
            [call("order_test", {"test": "CBC"}), call("order_test", {"test": "CBC"}, "c2")],
            OrderTest(test="CBC"),
        ),
    ],
)
def test_tool_calls_map_to_typed_actions(calls: list[ToolCall], expected: object) -> None:
    assert parse_tool_reply("", calls, OFFERED) == expected


def test_tool_protocol_reads_a_call_written_in_the_content() -> None:
    text = '<tool_call>{"name": "order_test", "arguments": {"test": "CBC"}}</tool_call>'
    assert parse_tool_reply(text, [], OFFERED) == OrderTest(test="CBC")


@pytest.mark.parametrize(
    ("text", "calls", "message"),
    [
        ("What brings you here today?", [], "call exactly one of the tools"),
        ("", [], "call exactly one of the tools"),
        ("", [call("order_test", "{not json")], "must be a JSON object"),
        ("", [call("order_test", "[1, 2]")], "must be a JSON object"),
        (
            "",
            [call("order_test", {"test": "CBC"}), call("order_test", {"test": "ECG"})],
            "2 different",
        ),
        ("", [call("Summon a consultant", {})], "there is no action"),
        ("", [call("order_test", {})], "non-empty 'test'"),
    ],
)
def test_tool_protocol_rejects_broken_replies(
    text: str, calls: list[ToolCall], message: str
) -> None:
    with pytest.raises(ReplyParseError, match=message):
        parse_tool_reply(text, calls, OFFERED)


# ------------------------------------------------------------------ agentclinic


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("DIAGNOSIS READY: Pneumonia", SubmitDiagnosis(diagnosis="Pneumonia")),
        ("DIAGNOSIS READY: [Acute appendicitis]", SubmitDiagnosis(diagnosis="Acute appendicitis")),
        ("**DIAGNOSIS READY:** Myasthenia gravis.", SubmitDiagnosis(diagnosis="Myasthenia gravis")),
        (
            "Thank you. Based on the findings, DIAGNOSIS READY: Lyme disease\nTake care.",
            SubmitDiagnosis(diagnosis="Lyme disease"),
        ),
        ("DIAGNOSIS READY:\n\nSarcoidosis", SubmitDiagnosis(diagnosis="Sarcoidosis")),
        (  # AgentClinic's script only reacts to the upper-case markers
            "Diagnosis ready: Sarcoidosis",
            AskPatient(question="Diagnosis ready: Sarcoidosis"),
        ),
        ("Final diagnosis: Sarcoidosis", AskPatient(question="Final diagnosis: Sarcoidosis")),
        ("REQUEST TEST: Chest_X-Ray", OrderTest(test="Chest_X-Ray")),
        ("REQUEST TEST: [Complete Blood Count].", OrderTest(test="Complete Blood Count")),
        (
            "I'd like to check your blood. REQUEST TEST: CBC",
            OrderTest(test="CBC"),
        ),
        (  # the diagnosis wins over a test mentioned in the same reply (as in AgentClinic)
            "REQUEST TEST: ECG\nDIAGNOSIS READY: Pericarditis",
            SubmitDiagnosis(diagnosis="Pericarditis"),
        ),
        ("REQUEST IMAGES", READ_FIRST),
        ("Could you show me? REQUEST IMAGES please.", READ_FIRST),
        (
            "How long have you had the cough?",
            AskPatient(question="How long have you had the cough?"),
        ),
        ("Doctor: Any fever?", AskPatient(question="Any fever?")),
        ("Dr. Agent: Any fever?", AskPatient(question="Any fever?")),
        ("  When did it start?  ", AskPatient(question="When did it start?")),
    ],
)
def test_agentclinic_protocol(reply: str, expected: object) -> None:
    assert parse_agentclinic_reply(reply, READ_FIRST) == expected


@pytest.mark.parametrize(
    ("reply", "image_request", "message"),
    [
        ("", READ_FIRST, "empty"),
        ("   \n ", READ_FIRST, "empty"),
        ("DIAGNOSIS READY:", READ_FIRST, "write the diagnosis"),
        ("DIAGNOSIS READY: []", READ_FIRST, "write the diagnosis"),
        ("REQUEST TEST:   ", READ_FIRST, "name the test"),
        ("REQUEST IMAGES", None, "no images are available"),
    ],
)
def test_agentclinic_protocol_rejects_broken_replies(
    reply: str, image_request: CallTool | None, message: str
) -> None:
    with pytest.raises(ReplyParseError, match=message):
        parse_agentclinic_reply(reply, image_request)


def test_parse_reply_dispatches_on_protocol() -> None:
    text = '{"action": "order_test", "test": "CBC"}'
    assert parse_reply("json", text, offered=OFFERED) == OrderTest(test="CBC")
    assert parse_reply("agentclinic", text) == AskPatient(question=text)
    assert parse_reply("tools", text, offered=OFFERED) == OrderTest(test="CBC")
    calls = [call("ask_patient", {"question": "Hi?"})]
    assert parse_reply("tools", "", calls, OFFERED) == AskPatient(question="Hi?")
