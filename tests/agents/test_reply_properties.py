"""Generated replies: any core action written in any of the styles the parsers accept, with any
text in its fields, reads back as itself; two different actions in one reply never become one."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from clinsim.agents.llm.parsing import Protocol, ReplyParseError, parse_reply
from clinsim.environments.actions import Action, AskPatient, OrderTest, SubmitDiagnosis

FIELD = {"ask_patient": "question", "order_test": "test", "submit_diagnosis": "diagnosis"}
# free text for json/tools fields: quotes, braces, brackets, commas and accents included
free_text = (
    st.text(
        alphabet=st.sampled_from(
            list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 '\",.;:(){}[]/?!-éü–")
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
# AgentClinic values: what a diagnosis or test name looks like (no markers, no sentence ends)
plain_words = (
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10),
        min_size=1,
        max_size=4,
    )
    .map(lambda words: " ".join(words).capitalize())
    .filter(lambda v: v.lower() not in {"test", "diagnosis", "diagnosis here"})
)


def actions(text: st.SearchStrategy[str]) -> st.SearchStrategy[Action]:
    return st.one_of(
        text.map(lambda v: AskPatient(question=v)),
        text.map(lambda v: OrderTest(test=v)),
        text.map(lambda v: SubmitDiagnosis(diagnosis=v)),
    )


def _value(action: Action) -> str:
    return str(getattr(action, FIELD[action.kind]))


def _payload(action: Action) -> dict[str, str]:
    return {"action": action.kind, FIELD[action.kind]: _value(action)}


JSON_STYLES: list[Callable[[Action], str]] = [
    lambda a: json.dumps(_payload(a)),
    lambda a: f"Here is my action:\n```json\n{json.dumps(_payload(a), indent=2)}\n```\nThanks.",
    lambda a: repr(_payload(a)),  # a Python dict: single quotes
    lambda a: json.dumps(_payload(a))[:-1] + ", }",  # trailing comma
    lambda a: "<think>Let me decide.</think>\n" + json.dumps(_payload(a), ensure_ascii=False),
]
TOOL_STYLES: list[Callable[[Action], str]] = [
    lambda a: f"```tool_code\n{a.kind}({FIELD[a.kind]}={_value(a)!r})\n```",
    lambda a: f"[{a.kind}({FIELD[a.kind]}={_value(a)!r})]",
    lambda a: json.dumps({"name": a.kind, "parameters": {FIELD[a.kind]: _value(a)}}),
    lambda a: (
        "<tool_call>\n"
        + json.dumps({"name": a.kind, "arguments": {FIELD[a.kind]: _value(a)}})
        + "\n</tool_call>"
    ),
    lambda a: f"Next step.\n\n{a.kind}({FIELD[a.kind]}={_value(a)!r})",
]


def _agentclinic(action: Action, style: int) -> str:
    value = _value(action)
    if isinstance(action, AskPatient):
        return [value + "?", f"Doctor: {value}?", f"**{value}?**"][style % 3]
    marker = "DIAGNOSIS READY" if isinstance(action, SubmitDiagnosis) else "REQUEST TEST"
    return [
        f"{marker}: {value}",
        f"Thank you. **{marker}:** {value}.",
        f"{marker}: [{value}]\nThis fits the findings.",
    ][style % 3]


def _expected(action: Action, protocol: Protocol) -> Action:
    if protocol == "agentclinic" and isinstance(action, AskPatient):
        return AskPatient(question=action.question + "?")
    return action


@settings(max_examples=300, deadline=None)
@given(actions(free_text), st.integers(0, 4), st.sampled_from(["json", "tools"]))
def test_one_action_in_any_style_reads_back(action: Action, style: int, protocol: str) -> None:
    styles = JSON_STYLES if protocol == "json" else TOOL_STYLES
    reply = styles[style](action)
    assert parse_reply(protocol, reply) == action, reply  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(actions(plain_words), st.integers(0, 2))
def test_one_agentclinic_action_reads_back(action: Action, style: int) -> None:
    reply = _agentclinic(action, style)
    assert parse_reply("agentclinic", reply) == _expected(action, "agentclinic"), reply


@settings(max_examples=300, deadline=None)
@given(
    actions(free_text),
    actions(free_text),
    st.integers(0, 4),
    st.integers(0, 4),
    st.sampled_from(["json", "tools"]),
)
def test_two_different_actions_are_never_read_as_one(
    first: Action, second: Action, style_a: int, style_b: int, protocol: str
) -> None:
    if first == second:
        return
    styles = JSON_STYLES if protocol == "json" else TOOL_STYLES
    reply = f"{styles[style_a](first)}\n\n{styles[style_b](second)}"
    try:
        action = parse_reply(protocol, reply)  # type: ignore[arg-type]
    except ReplyParseError:
        return
    raise AssertionError(f"{reply!r} read as {action!r}")
