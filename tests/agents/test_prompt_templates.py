"""Prompt templates: the bundled ones pass their own checks; a supplied one that uses a variable
its part does not receive, misses what its protocol needs, does not parse or escapes the sandbox
is refused with its part and file named."""

from __future__ import annotations

import pytest

from clinsim.agents.prompts import (
    PARTS,
    PromptError,
    Template,
    UnknownPart,
    bundled_prompts,
    check_template,
    part_key,
    role_prompts,
)
from clinsim.agents.prompts.parts import role_parts

PROTOCOLS = ("json", "tools", "agentclinic")


def variants(role: str) -> tuple[str | None, ...]:
    return PROTOCOLS if role == "doctor" else (None,)


@pytest.mark.parametrize("role", ["doctor", "patient", "measurement", "judge"])
def test_every_bundled_template_passes_its_checks(role: str) -> None:
    for variant in variants(role):
        prompts = bundled_prompts(role, variant)
        assert {t.key for t in prompts.templates.values()} == {
            p.key for p in role_parts(role, variant)
        }
        for template in prompts.templates.values():
            assert not template.supplied
            check_template(template, variant)


def test_every_part_has_a_bundled_template() -> None:
    for key, part in PARTS.items():
        used = part.used_with or variants(part.role)
        for variant in used:
            assert bundled_prompts(part.role, variant).by_key()[key].text


def supplied(key: str, text: str) -> Template:
    return Template(key, text, "my/prompt.j2")


def refused(key: str, text: str, variant: str | None) -> str:
    with pytest.raises(PromptError) as info:
        check_template(supplied(key, text), variant)
    message = str(info.value)
    assert message.startswith(f"prompt {key} (my/prompt.j2): "), message
    return message


def test_an_unknown_variable_is_named_with_what_the_part_receives() -> None:
    message = refused("doctor.system", "{{ objective }} {{ patient_name }}", "tools")
    assert "unknown variable patient_name" in message
    assert "doctor.system receives: objective, max_turns" in message


def test_an_unknown_variable_inside_a_condition_is_found_before_rendering() -> None:
    message = refused("judge.question", "{% if never %}{{ secret }}{% endif %}", None)
    assert "unknown variables never, secret" in message


def test_agentclinic_needs_its_action_markers() -> None:
    text = "You are Dr. Agent. {{ objective }} Say DIAGNOSIS READY: [diagnosis] when sure."
    message = refused("doctor.system", text, "agentclinic")
    assert "must contain 'REQUEST TEST'" in message and "agentclinic protocol" in message
    check_template(supplied("doctor.system", text + " REQUEST TEST: [test]"), "agentclinic")


def test_the_json_protocol_needs_the_tool_list() -> None:
    text = 'Reply {"action": "ask_patient"|"order_test"|"submit_diagnosis"}. {{ objective }}'
    message = refused("doctor.system", text, "json")
    assert "never uses tools or extra_tools" in message and "json protocol" in message
    with_tools = (
        text + "{% for t in extra_tools %}\n- {{ t.name }}: {{ t.description }}{% endfor %}"
    )
    check_template(supplied("doctor.system", with_tools), "json")


def test_the_tool_code_instructions_need_the_tools() -> None:
    message = refused("doctor.tool_code", "Call a function in a tool_code block.", "tools")
    assert "never uses tools or definitions" in message


def test_the_system_prompt_needs_the_case() -> None:
    message = refused("doctor.system", "You are a doctor. Use the tools.", "tools")
    assert "never uses objective" in message


def test_the_measurement_reader_must_be_told_its_normal_readings_marker() -> None:
    message = refused("measurement.system", "Results for: {{ information }}", None)
    assert "'NORMAL READINGS'" in message


def test_a_syntax_error_names_the_line() -> None:
    message = refused("patient.system", "{{ profile }}\n{% if bias %}\n{{ bias }}", None)
    assert "line 3" in message


@pytest.mark.parametrize(
    "text",
    [
        "{{ profile.__class__.__mro__ }}",  # the sandbox refuses underscore attributes
        "{{ facts.update({'x': 1}) }}{{ profile }}",  # and changing what it is given
        "{{ profile }}{{ facts.nonexistent.field }}",  # an undefined value is an error
    ],
)
def test_a_template_failing_with_the_example_values_is_refused(text: str) -> None:
    assert "cannot be rendered" in refused("patient.system", text, None)


def test_a_bias_template_needs_named_blocks() -> None:
    assert "holds no {% block NAME %}" in refused("doctor.bias", "Always suspect cancer.", None)


def test_a_supplied_part_the_protocol_does_not_use_is_an_error() -> None:
    template = supplied("doctor.tool_code", "{{ definitions }}")
    with pytest.raises(PromptError, match="used only with the tools protocol"):
        role_prompts("doctor", "json", {"doctor.tool_code": template})


def test_supplied_templates_replace_only_their_part() -> None:
    template = supplied("doctor.turn_note", "Turn {{ turn }}/{{ max_turns }}")
    prompts = role_prompts("doctor", "json", {"doctor.turn_note": template})
    assert prompts.template("turn_note") is template
    assert prompts.template("system") == bundled_prompts("doctor", "json").template("system")
    assert prompts.render("turn_note", turn=3, max_turns=9) == "Turn 3/9"


def test_one_final_newline_of_a_file_is_dropped() -> None:
    template = supplied("judge.retry", "Yes or no?\n")
    assert template.render({}) == "Yes or no?"
    assert supplied("judge.retry", "Yes or no?\n\n").render({}) == "Yes or no?\n"


def test_the_hash_is_of_the_text() -> None:
    a, b = supplied("judge.retry", "Yes or no?"), supplied("judge.retry", "Yes or no? ")
    assert len(a.sha256) == 64 and a.sha256 != b.sha256


@pytest.mark.parametrize(
    ("key", "full"), [("doctor", "doctor.system"), ("judge.question", "judge.question")]
)
def test_keys_name_a_part_or_a_role(key: str, full: str) -> None:
    assert part_key(key) == full


def test_an_unknown_key_lists_what_there_is() -> None:
    with pytest.raises(UnknownPart, match=r"no role 'doctr'.*roles: doctor, patient"):
        part_key("doctr.system")
    with pytest.raises(
        UnknownPart, match=r"parts: doctor\.system, doctor\.vignette, doctor\.opening"
    ):
        part_key("doctor.sytem")


def test_the_graded_judge_must_name_the_grades() -> None:
    text = "Grade the diagnosis: exact, synonym, more_specific, less_specific or wrong."
    assert "must contain 'related'" in refused("judge.graded_system", text, None)
