"""The lenient readers behind the protocols: Python-style calls read with `ast` (never run),
JSON repaired by json-repair with what was fixed reported, thinking spans set aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinsim.agents.llm.parsing import ReplyParseError, parse_reply, read_reply
from clinsim.agents.llm.parsing.json_reply import json_spans
from clinsim.agents.llm.parsing.tool_code import code_calls, text_calls
from clinsim.agents.models.thinking import split_thinking
from clinsim.environments.actions import AskPatient, CallTool, OrderTest, SubmitDiagnosis

OFFERED = {"ask_patient", "order_test", "submit_diagnosis", "query_ehr"}

# ------------------------------------------------------------------ tool_code


@pytest.mark.parametrize(
    ("code", "calls"),
    [
        ('order_test(test="CBC")', [("order_test", {"test": "CBC"})]),
        ("[order_test(test='CBC'), ask_patient(question='Hi?')]", [
            ("order_test", {"test": "CBC"}), ("ask_patient", {"question": "Hi?"})]),
        ('print(order_test(test="CBC"))', [("order_test", {"test": "CBC"})]),
        ('default_api.order_test(test="CBC")', [("order_test", {"test": "CBC"})]),
        ('order_test("CBC")', [("order_test", {"test": "CBC"})]),
        (
            'query_ehr(sql="SELECT 1", limit=5, flags=(True, None), opts={"a": [1.5]})',
            [("query_ehr", {"sql": "SELECT 1", "limit": 5, "flags": [True, None],
                            "opts": {"a": [1.5]}})],
        ),
        ("# a comment\norder_test(test='ECG')\n", [("order_test", {"test": "ECG"})]),
        ("x = 1", None),  # not calls: not read at all
        ("Thanks for waiting.", None),
    ],
)  # fmt: skip
def test_code_calls_reads_literal_calls(code: str, calls: object) -> None:
    assert code_calls(code, OFFERED) == calls


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('order_test(test=__import__("os").system("touch {marker}"))', "literal value"),
        ('__import__("os").system("touch {marker}")', "by name"),
        ('open("{marker}", "w").write("x")', "by name"),
        ('order_test(test=open("{marker}", "w"))', "literal value"),
        ("order_test(test=(lambda: 1)())", "literal value"),
        ("order_test(test=().__class__)", "literal value"),
        ("order_test(test=[c for c in 'ab'])", "literal value"),
        ("order_test(test={{1, 2}})", "set values are not accepted"),
        ("order_test(test=b'CBC')", "bytes values are not accepted"),
        ("order_test(test=1j)", "complex values are not accepted"),
        ("order_test(**{{'test': 'CBC'}})", "name=value"),
        ('query_ehr("SELECT 1")', "name=value"),
        ('order_test("CBC", "ECG")', "name=value"),
    ],
)
def test_code_calls_never_run_code_and_say_what_is_wrong(
    code: str, message: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ReplyParseError, match=message):
        code_calls(code.format(marker=marker), OFFERED)
    assert not marker.exists()


def test_deeply_nested_code_is_rejected_not_crashed() -> None:
    code = "order_test(test=" + "[" * 5000 + "]" * 5000 + ")"
    with pytest.raises(ReplyParseError):
        parse_reply("tools", f"```tool_code\n{code}\n```", offered=OFFERED)
    assert code_calls("(" * 100_000, OFFERED) is None


def test_calls_in_text_come_from_fences_then_the_whole_reply_then_lone_lines() -> None:
    notes: list[str] = []
    fenced = 'Checking.\n```tool_code\norder_test(test="ECG")\n```\n```tool_output\n...\n```'
    calls, rest = text_calls(fenced, OFFERED, notes)
    assert calls == [("order_test", {"test": "ECG"})] and "tool_code" not in rest
    assert text_calls('`order_test(test="ECG")`', OFFERED, notes) == (
        [("order_test", {"test": "ECG"})],
        "",
    )
    prose = 'The urine first.\n\norder_test(test="Urinalysis")\nThanks(for waiting)'
    assert text_calls(prose, OFFERED, notes) == (
        [("order_test", {"test": "Urinalysis"})],
        "The urine first.\n\nThanks(for waiting)",
    )
    sentence = 'I would use order_test(test="CBC") next.'
    assert text_calls(sentence, OFFERED, notes) == ([], sentence)
    assert notes == [
        "call read from a code block",
        "call written as text",
        "call written as text among prose",
    ]


def test_json_inside_a_call_argument_is_not_a_second_call() -> None:
    for reply in (
        '```tool_code\nask_patient(question=\'Is it {"action": "order_test"} like?\')\n```',
        '[ask_patient(question=\'Is it {"action": "order_test"} like?\')]',
    ):
        action = parse_reply("tools", reply, offered=OFFERED)
        assert action == AskPatient(question='Is it {"action": "order_test"} like?')


def test_a_tool_code_block_that_is_no_call_is_rejected() -> None:
    with pytest.raises(ReplyParseError, match="tool_code block is not a complete call"):
        parse_reply("tools", '```tool_code\norder_test(test="Magnetic', offered=OFFERED)


# ------------------------------------------------------------------ json


@pytest.mark.parametrize(
    ("reply", "repairs"),
    [
        ('{"action": "ask_patient", "question": "Hi?"}', ()),
        ('{"action": "ask_patient", "question": "Hi?",}', ("repaired JSON: trailing comma",)),
        ("{'action': 'ask_patient', 'question': 'Hi?'}", ("repaired JSON: single quotes",)),
        ('{"action": "ask_patient", "question": "Hi?", "x": None}', ("repaired JSON: Python literal",)),
        ('{"action": "ask_patient", // it\'s a question\n "question": "Hi?"}', ("repaired JSON: comment",)),
        ('{action: "ask_patient", question: "Hi?"}', ("repaired JSON: unquoted key",)),
        ('Sure:\n```json\n{"action": "ask_patient", "question": "Hi?"}\n```', ("code fence", "text around the JSON")),
        ('{"action": "ask_patient", "question": "Hi?"} {"action": "ask_patient", "question": "Hi?"}', ("the same action written 2 times, read once",)),
        ('<think>hmm</think>{"action": "ask_patient", "question": "Hi?"}', ("thinking span set aside",)),
    ],
)  # fmt: skip
def test_json_repairs_are_reported(reply: str, repairs: tuple[str, ...]) -> None:
    parsed = read_reply("json", reply, offered=OFFERED)
    assert parsed.action == AskPatient(question="Hi?")
    assert parsed.repairs == repairs


def test_json_spans_skip_strings_and_comments_and_notice_a_cut_off_object() -> None:
    text = 'a {"q": "a } in a string", /* } */ "r": 1} b [{"c": 2}] [plain] {"open": "'
    spans, cut_off = json_spans(text)
    assert spans == ['{"q": "a } in a string", /* } */ "r": 1}', '[{"c": 2}]']
    assert cut_off


def test_a_complete_action_before_an_unfinished_object_is_read() -> None:
    parsed = read_reply("json", '{"action": "order_test", "test": "ECG"} then {"action": "ask')
    assert parsed.action == OrderTest(test="ECG")
    assert "an unfinished JSON object ignored" in parsed.repairs


def test_a_stray_brace_in_prose_does_not_hide_the_object() -> None:
    reply = 'Set { aside.\n{"action": "order_test", "test": "ECG"}'
    assert parse_reply("json", reply) == OrderTest(test="ECG")
    assert parse_reply("tools", 'Use {x.\norder_test(test="ECG")', offered=OFFERED) == OrderTest(
        test="ECG"
    )
    with pytest.raises(ReplyParseError, match="cut off"):
        parse_reply("tools", '{"name": "order_test", "arguments": {"test": "EC', offered=OFFERED)


def test_several_actions_in_a_tool_calls_object_are_ambiguous() -> None:
    reply = (
        '{"tool_calls": [{"function": {"name": "order_test", "arguments": {"test": "CBC"}}}, '
        '{"function": {"name": "order_test", "arguments": "{\\"test\\": \\"ECG\\"}"}}]}'
    )
    with pytest.raises(ReplyParseError, match="2 different actions"):
        parse_reply("tools", reply, offered=OFFERED)


def test_structured_calls_win_over_calls_written_in_the_content() -> None:
    from clinsim.agents.models.base import ToolCall

    call = ToolCall(id="1", name="submit_diagnosis", arguments='{"diagnosis": "Gout",}')
    parsed = read_reply("tools", 'order_test(test="CBC")', [call], OFFERED)
    assert parsed.action == SubmitDiagnosis(diagnosis="Gout")
    assert parsed.repairs == ("repaired JSON: trailing comma",)


def test_unknown_tools_become_calls_but_prose_names_do_not() -> None:
    assert parse_reply("json", '{"action": "page_surgeon"}', offered=OFFERED) == CallTool(
        tool="page_surgeon"
    )
    with pytest.raises(ReplyParseError, match="there is no action 'page the surgeon'"):
        parse_reply("json", '{"action": "page the surgeon"}', offered=OFFERED)


# ------------------------------------------------------------------ thinking


@pytest.mark.parametrize(
    ("text", "reply", "thinking"),
    [
        ("<think>weigh MI vs PE</think>Order a troponin.", "Order a troponin.", "weigh MI vs PE"),
        ("<thinking>a</thinking> b <THINK>c</THINK> d", "b  d", "a\n\nc"),
        ("<unused94>thought\nx<unused95>y", "y", "thought\nx"),
        ("chain of thought\n</think>\n\nAnswer", "Answer", "chain of thought"),
        ("<think>cut off here", "", "cut off here"),
        ("<think></think>Answer", "Answer", None),
        ("no thinking <b>here</b>", "no thinking <b>here</b>", None),
    ],
)
def test_split_thinking_handles_every_span_style(
    text: str, reply: str, thinking: str | None
) -> None:
    assert split_thinking(text) == (reply, thinking)


def test_a_reply_of_only_thinking_gets_a_message_saying_so() -> None:
    for protocol in ("json", "tools", "agentclinic"):
        with pytest.raises(ReplyParseError, match="only thinking"):
            parse_reply(protocol, "<think>I should order a CBC", offered=OFFERED)  # type: ignore[arg-type]
