"""A run with prompt templates of one's own: `--prompt ROLE.PART=FILE` words the model's prompts,
the run stores every template's text and sha256, the differences between two runs' templates are
named, `--resume` refuses a changed template, a replay plays with the stored text, and a bad
template stops the run before it starts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.config import StoredRun
from clinsim.environments.events import ModelCalled
from clinsim.environments.run_store import RunStore
from clinsim.prompting import prompt_differences

cli = CliRunner()

DOCTOR_TEMPLATE = """{#- our own wording -#}
You are the admitting physician. {{ objective }}
You have {{ max_turns }} turns. Reply with one JSON object:
{"action": "ask_patient", "question": "..."} | {"action": "order_test", "test": "..."} | \
{"action": "submit_diagnosis", "diagnosis": "..."}
{%- for tool in extra_tools %}
- {{ tool.name }}: {{ tool.description }}
{%- endfor %}
"""


def clinic(body: dict[str, Any]) -> dict[str, Any]:
    """A doctor that asks once and then diagnoses; a patient that answers."""
    if body["model"] == "pat":
        return {"content": "Since yesterday."}
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    if turn == 0:
        return {"content": '{"action": "ask_patient", "question": "Since when?"}'}
    return {"content": '{"action": "submit_diagnosis", "diagnosis": "Myasthenia gravis"}'}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer.in_thread(responder=clinic) as running:
        yield running


def run(server: LoopbackServer, out: Path, *more: str) -> Any:
    args = ["run", "demo", "--limit", "2", "--doctor", "openai/doc", "--patient", "openai/pat"]
    args += ["--base-url", server.base_url, "--out", str(out), *more]
    return cli.invoke(app, args, env={"COLUMNS": "120"})


def stored(out: Path) -> StoredRun:
    return StoredRun.model_validate(RunStore(out).run_info().config)


def system_prompts(out: Path) -> set[str]:
    store = RunStore(out)
    calls = [
        e
        for record in store.episodes()
        for e in store.events(record.episode_id)
        if isinstance(e, ModelCalled) and e.role == "doctor"
    ]
    return {call.messages[0]["content"] for call in calls}


def test_a_supplied_doctor_template_is_stored_with_its_hash_and_named_by_differences(
    server: LoopbackServer, tmp_path: Path
) -> None:
    template = tmp_path / "doctor.j2"
    template.write_text(DOCTOR_TEMPLATE)
    mine, default = tmp_path / "mine", tmp_path / "default"
    result = run(server, mine, "--prompt", f"doctor.system={template}")
    assert result.exit_code == 0, result.output
    assert run(server, default).exit_code == 0

    record = stored(mine).prompts["doctor.system"]
    assert record.source == str(template)
    assert record.text == DOCTOR_TEMPLATE
    assert record.sha256 == hashlib.sha256(DOCTOR_TEMPLATE.encode()).hexdigest()
    assert stored(mine).run.prompts == {"doctor.system": str(template)}
    # the doctor was worded by it; the other templates are the bundled ones, recorded too
    systems = system_prompts(mine)
    assert len(systems) == 2  # one per case (its objective)
    for system in systems:
        assert system.startswith("You are the admitting physician. ") and "{{" not in system
    assert stored(mine).prompts["patient.system"].source == "bundled:patient.system.j2"
    assert stored(default).prompts["doctor.system"].source == "bundled:doctor.system.json.j2"

    # the stored configurations, as JSON, say which template differs and how
    raw = [RunStore(folder).run_info().config for folder in (mine, default)]
    (line,) = prompt_differences(raw[0], raw[1], names=("mine", "default"))
    assert line.startswith(f"doctor.system: mine {template} (sha256 {record.sha256[:12]})")
    assert "default bundled doctor.system.json.j2" in line
    assert prompt_differences(stored(default), stored(default)) == []


def test_compare_names_the_template_two_runs_differ_in(
    server: LoopbackServer, tmp_path: Path
) -> None:
    template = tmp_path / "doctor.j2"
    template.write_text(DOCTOR_TEMPLATE)
    mine, default, again = tmp_path / "mine", tmp_path / "default", tmp_path / "again"
    assert run(server, mine, "--prompt", f"doctor.system={template}").exit_code == 0
    assert run(server, default).exit_code == 0
    assert run(server, again).exit_code == 0
    ours, bundled = stored(mine).prompts["doctor.system"], stored(default).prompts["doctor.system"]
    assert ours.sha256 != bundled.sha256

    shown = cli.invoke(app, ["compare", str(mine), str(default)], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    (note,) = [line for line in shown.output.splitlines() if "prompt templates differ" in line]
    assert "doctor.system:" in note
    assert f"{template} (sha256 {ours.sha256[:12]})" in note
    assert f"bundled doctor.system.json.j2 (sha256 {bundled.sha256[:12]})" in note

    as_json = cli.invoke(app, ["compare", str(mine), str(default), "--json"])
    (pair,) = json.loads(as_json.output)["pairs"]
    assert pair["prompt_differences"] == [
        {
            "prompt": "doctor.system",
            "a": {"source": str(template), "sha256": ours.sha256},
            "b": {"source": "bundled:doctor.system.json.j2", "sha256": bundled.sha256},
        }
    ]
    assert any(n.startswith("prompt templates differ: doctor.system:") for n in pair["notes"])

    same = cli.invoke(app, ["compare", str(default), str(again), "--json"])
    (pair,) = json.loads(same.output)["pairs"]
    assert pair["prompt_differences"] == [] and not any("prompt" in n for n in pair["notes"])


def test_resume_refuses_a_changed_template(server: LoopbackServer, tmp_path: Path) -> None:
    template, out = tmp_path / "doctor.j2", tmp_path / "run"
    template.write_text(DOCTOR_TEMPLATE)
    assert run(server, out, "--prompt", f"doctor={template}", "--limit", "1").exit_code == 0
    template.write_text(DOCTOR_TEMPLATE.replace("admitting", "attending"))
    result = run(server, out, "--prompt", f"doctor={template}", "--resume")
    assert result.exit_code != 0
    assert "other prompt templates" in result.output and "doctor.system: stored" in result.output
    template.write_text(DOCTOR_TEMPLATE)
    assert run(server, out, "--prompt", f"doctor={template}", "--resume").exit_code == 0
    assert len(RunStore(out).episodes()) == 2


def test_a_rerun_plays_with_the_stored_text(server: LoopbackServer, tmp_path: Path) -> None:
    template, out = tmp_path / "doctor.j2", tmp_path / "run"
    template.write_text(DOCTOR_TEMPLATE)
    assert run(server, out, "--prompt", f"doctor.system={template}").exit_code == 0
    template.unlink()  # the stored text is what a replay uses
    episode = RunStore(out).episodes()[0].episode_id
    result = cli.invoke(app, ["replay", str(out), episode, "--rerun"])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ objective }} {{ diagnosis }}", "unknown variable diagnosis"),
        ("{{ objective }}", "never uses tools or extra_tools, which doctor.system needs"),
    ],
)
def test_a_bad_template_stops_the_run_before_it_starts(
    server: LoopbackServer, tmp_path: Path, text: str, expected: str
) -> None:
    template, out = tmp_path / "doctor.j2", tmp_path / "run"
    template.write_text(text)
    result = run(server, out, "--prompt", f"doctor.system={template}")
    assert result.exit_code == 2
    assert f"prompt doctor.system ({template})" in result.output and expected in result.output
    assert not out.exists()


def test_a_prompt_for_a_role_no_model_plays_is_an_error(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{{ objective }}")
    result = cli.invoke(app, ["run", "demo", "--prompt", f"doctor={template}"])
    assert result.exit_code == 2
    assert "doctor ('baseline') is not played from prompt templates" in result.output


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("doctor.sytem=x.j2", "the doctor has no such part"),
        ("doctor.system", "--prompt takes ROLE.PART=FILE"),
        ("doctor.system=missing.j2", "cannot read missing.j2"),
    ],
)
def test_prompt_flags_are_checked(
    server: LoopbackServer, tmp_path: Path, flag: str, expected: str
) -> None:
    result = run(server, tmp_path / "run", "--prompt", flag)
    assert result.exit_code == 2 and expected in result.output, result.output


def test_experiment_style_configs_hold_prompts_as_plain_data(tmp_path: Path) -> None:
    from clinsim.config import RunConfig

    config = RunConfig.model_validate({"prompts": {"doctor": "a.j2", "judge.question": "b.j2"}})
    assert config.prompts == {"doctor.system": "a.j2", "judge.question": "b.j2"}
    assert json.loads(config.model_dump_json())["prompts"] == config.prompts
    with pytest.raises(ValueError, match="no role 'nurse'"):
        RunConfig.model_validate({"prompts": {"nurse.system": "a.j2"}})


def test_a_forks_new_doctor_takes_templates_of_its_own(
    server: LoopbackServer, tmp_path: Path
) -> None:
    template, original, fork = tmp_path / "doctor.j2", tmp_path / "run", tmp_path / "fork"
    template.write_text(DOCTOR_TEMPLATE)
    assert run(server, original, "--limit", "1").exit_code == 0
    episode = RunStore(original).episodes()[0].episode_id
    args = ["replay", str(original), episode, "--fork-at", "2", "--doctor", "openai/doc"]
    args += ["--base-url", server.base_url, "--prompt", f"doctor.system={template}"]
    result = cli.invoke(app, [*args, "--out", str(fork)])
    assert result.exit_code == 0, result.output
    forked = stored(fork)
    assert forked.fork_prompts["doctor.system"].text == DOCTOR_TEMPLATE
    assert forked.prompts == stored(original).prompts  # the replayed roles' own templates
    systems = system_prompts(fork)
    assert any(s.startswith("You are a physician") for s in systems)  # turn 1, replayed
    assert any(s.startswith("You are the admitting physician.") for s in systems)  # the fork
    (line,) = prompt_differences(stored(original), forked)
    assert line.startswith("fork doctor: played from prompts in the second run only (system,")


def test_a_run_stored_before_templates_were_recorded_resumes_with_the_bundled_ones(
    server: LoopbackServer, tmp_path: Path
) -> None:
    import duckdb

    out = tmp_path / "run"
    assert run(server, out, "--limit", "1").exit_code == 0
    config = RunStore(out).run_info().config
    del config["prompts"], config["fork_prompts"]
    del config["run"]["prompts"]
    with duckdb.connect(str(out / "run.duckdb")) as con:
        con.execute("UPDATE runs SET config = ?", [json.dumps(config)])
    template = tmp_path / "doctor.j2"
    template.write_text(DOCTOR_TEMPLATE)
    refused = run(server, out, "--resume", "--prompt", f"doctor={template}")
    assert refused.exit_code != 0 and "other prompt templates" in refused.output
    assert run(server, out, "--resume").exit_code == 0
    assert len(RunStore(out).episodes()) == 2


def test_a_vignette_is_worded_by_the_vignette_template(
    server: LoopbackServer, tmp_path: Path
) -> None:
    template, out = tmp_path / "vignette.j2", tmp_path / "run"
    template.write_text('Whole case below; {"action": "submit_diagnosis"} only.')
    flags = ["--presentation", "vignette", "--prompt", f"doctor.vignette={template}"]
    assert run(server, out, *flags).exit_code == 0
    assert system_prompts(out) == {'Whole case below; {"action": "submit_diagnosis"} only.'}
    assert stored(out).prompts["doctor.vignette"].source == str(template)
    assert stored(out).prompts["doctor.system"].source == "bundled:doctor.system.json.j2"
    refused = tmp_path / "refused.j2"
    refused.write_text("Diagnose it.")  # names no submit_diagnosis: the json protocol's reply
    result = run(server, tmp_path / "other", "--prompt", f"doctor.vignette={refused}")
    assert result.exit_code == 2 and "submit_diagnosis" in result.output, result.output
