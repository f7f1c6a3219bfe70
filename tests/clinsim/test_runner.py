"""Runs: stored as they finish, reproducible by seed, readable from the CLI."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner, episode_seed
from clinsim.scenarios.sets import load_scenarios

cli = CliRunner()


def run_cli(*args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_oracle_scores_100_percent_on_agentclinic_medqa(tmp_path: Path) -> None:
    run_cli("run", "agentclinic-medqa", "--doctor", "oracle", "--out", str(tmp_path / "r"))
    records = RunStore(tmp_path / "r").episodes()
    assert len(records) == 107
    assert all(r.correct for r in records)
    assert {r.termination for r in records} == {"diagnosed"}


def test_a_doctor_that_never_diagnoses_scores_zero_by_turn_limit(tmp_path: Path) -> None:
    script = tmp_path / "ask.json"
    script.write_text(
        json.dumps({"actions": [{"kind": "ask_patient", "question": "And then?"}], "repeat": True})
    )
    run_cli(
        "run",
        "agentclinic-medqa",
        "--limit",
        "5",
        "--doctor",
        f"scripted/{script}",
        "--out",
        str(tmp_path / "r"),
    )
    records = RunStore(tmp_path / "r").episodes()
    assert len(records) == 5
    assert not any(r.correct for r in records)
    assert {r.termination for r in records} == {"turn_limit"}
    assert {r.turns for r in records} == {20}


def test_default_run_finishes_offline_and_show_reads_it(tmp_path: Path) -> None:
    out = run_cli("run", "--limit", "5", "--out", str(tmp_path / "r"))
    assert "accuracy" in out
    shown = run_cli("show", str(tmp_path / "r"))
    assert "demo/0001" in shown
    store = RunStore(tmp_path / "r")
    grades = Counter(
        next(e.grade for e in store.events(r.episode_id) if e.kind == "diagnosis_judged")
        for r in store.episodes()
    )
    counted = next(line for line in shown.splitlines() if "judge grades" in line)
    assert grades and all(f"{grade} {n}" in counted for grade, n in grades.items())
    shown_json = json.loads(run_cli("show", str(tmp_path / "r"), "--json"))
    records = shown_json["episodes"]
    assert len(records) == 5
    assert shown_json["summary"]["episodes"] == 5
    assert {"episode_id", "scenario_id", "termination", "correct", "turns", "tests", "cost"} <= set(
        records[0]
    )


def _events(run_dir: Path) -> dict[str, list[dict[str, object]]]:
    store = RunStore(run_dir)
    return {
        e.episode_id: [comparable(x) for x in store.events(e.episode_id)] for e in store.episodes()
    }


def test_same_seed_same_event_streams(tmp_path: Path) -> None:
    for name in ("a", "b"):
        run_cli(
            "run",
            "demo",
            "agentclinic-medqa",
            "--limit",
            "12",
            "--seed",
            "7",
            "--max-concurrency",
            "4",
            "--out",
            str(tmp_path / name),
        )
    first, second = _events(tmp_path / "a"), _events(tmp_path / "b")
    assert first == second
    assert sum(len(v) for v in first.values()) > 12 * 5


def test_episode_seeds_depend_on_run_seed_and_scenario() -> None:
    assert episode_seed(1, "x") == episode_seed(1, "x")
    assert episode_seed(1, "x") != episode_seed(2, "x")
    assert episode_seed(1, "x") != episode_seed(1, "y")


def test_an_interrupted_run_keeps_finished_episodes_and_resumes(tmp_path: Path) -> None:
    scenarios = load_scenarios(["agentclinic-medqa"])[:10]
    config = RunConfig(doctor="oracle", sources=["agentclinic-medqa"], limit=10, max_concurrency=1)
    store = RunStore(tmp_path / "r")
    store.create("r", resolve(config).stored().model_dump(mode="json"))

    async def interrupted() -> None:
        runner = Runner(resolve(config), store, "r")

        def on_event(episode_id: str, _event: object) -> None:
            if episode_id == "agentclinic-medqa/0004":  # the run is stopped in its fourth episode
                raise asyncio.CancelledError

        runner.on_event = on_event
        with pytest.raises(asyncio.CancelledError):
            await runner.run(scenarios)

    asyncio.run(interrupted())
    kept = store.finished_ids()
    assert sorted(kept) == [f"agentclinic-medqa/000{i}" for i in (1, 2, 3)]
    run_cli(
        "run",
        "agentclinic-medqa",
        "--limit",
        "10",
        "--doctor",
        "oracle",
        "--resume",
        "--out",
        str(tmp_path / "r"),
    )
    assert len(store.episodes()) == 10
    assert store.run_info().run_id == "r"


def test_replay_renders_and_dumps_the_stored_events(tmp_path: Path) -> None:
    run_cli("run", "demo", "--limit", "1", "--doctor", "oracle", "--out", str(tmp_path / "r"))
    text = run_cli("replay", str(tmp_path / "r"), "demo/0001")
    assert "DIAGNOSIS: Community-acquired pneumonia" in text
    dumped = [
        json.loads(line)
        for line in run_cli("replay", str(tmp_path / "r"), "demo/0001", "--json").splitlines()
    ]
    assert dumped[0]["kind"] == "episode_started" and dumped[-1]["kind"] == "episode_ended"
    assert [e["seq"] for e in dumped] == list(range(len(dumped)))


def test_bad_run_arguments_fail_cleanly(tmp_path: Path) -> None:
    for args in (
        ["run", "no-such-set"],
        ["run", "demo", "--doctor", "nobody"],
        ["show", str(tmp_path / "missing")],
        ["replay", str(tmp_path), "x"],
    ):
        result = cli.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.output and "Traceback" not in result.output


def test_a_crashing_role_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"kind": "call_tool", "tool": "no_such_tool"},
                {"kind": "submit_diagnosis", "diagnosis": "x"},
            ]
        )
    )
    run_cli("run", "demo", "--doctor", f"scripted/{bad}", "--out", str(tmp_path / "r"))
    records = RunStore(tmp_path / "r").episodes()
    assert len(records) == 8 and {r.termination for r in records} == {"diagnosed"}
    events = RunStore(tmp_path / "r").events("demo/0001")
    returned = next(e for e in events if e.kind == "tool_returned")
    assert "no such tool 'no_such_tool'" in (returned.error or "")


def test_key_value_options_reach_the_stored_config(tmp_path: Path) -> None:
    with LoopbackServer.in_thread() as server:  # answers "echo: ...": the doctor asks that
        run_cli(
            "run", "demo", "--limit", "1", "--max-turns", "2",
            "--doctor", "openai/doc", "--doctor-protocol", "agentclinic",
            "--base-url", server.base_url, "--api-key", "sk-secret",
            "--model-option", "tool_choice=required", "--model-option", "doctor.max_retries=5",
            "--agent-option", "multimodal=false", "--agent-option", "doctor.max_tokens=64",
            "--out", str(tmp_path / "r"),
        )  # fmt: skip
    stored = RunStore(tmp_path / "r").run_info().config
    assert stored["run"]["model_options"] == {
        "tool_choice": "required", "doctor.max_retries": 5, "base_urls": [server.base_url]
    }  # fmt: skip
    doctor = stored["components"]["doctor"]
    assert (doctor["component"], doctor["package"]) == ("llm", "clinsim")
    assert doctor["config"]["multimodal"] is False and doctor["config"]["max_tokens"] == 64
    assert doctor["config"]["protocol"] == "agentclinic"
    model = doctor["model"]
    assert model["component"] == "openai" and model["config"]["max_retries"] == 5
    assert model["config"]["tool_choice"] == "required"
    assert "sk-secret" not in json.dumps(stored) and "api_key" not in model["config"]
    result = cli.invoke(app, ["run", "demo", "--model-option", "no-equals-sign"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (
            ["--agent-option", "multimodal=false"],
            "no selected component takes 'multimodal' (doctor 'baseline', patient 'facts', "
            "measurement 'lookup', judge 'rules')",
        ),
        (
            ["--doctor-protocol", "tools"],
            "no selected component takes 'protocol' (doctor 'baseline')",
        ),
        (["--base-url", "http://127.0.0.1:9/v1"], "--base-url: model option base_urls: no role is"),
        (["--agent-option", "nurse.temperature=1"], "'nurse' is not selected (selected: doctor"),
        (
            ["--tool-option", "query_ehr.ehr_db=1"],
            "tools 'query_ehr': ehr_db: Input is not a valid path",
        ),
        (["--model-option", "doctor.api_key=x"], "use --api-key"),
        (["--agent-option", "temperature=0.5"], "use --temperature instead"),
    ],
)
def test_an_option_no_selected_component_takes_is_an_error(
    option: list[str], problem: str, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["run", "demo", *option, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and problem in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_a_run_directory_is_never_mixed_with_another_run(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    run_cli("run", "demo", "--limit", "2", "--out", out)
    again = cli.invoke(app, ["run", "demo", "--limit", "1", "--doctor", "oracle", "--out", out])
    assert again.exit_code == 2 and "already holds a run" in again.output
    other = cli.invoke(
        app, ["run", "demo", "--limit", "3", "--doctor", "oracle", "--resume", "--out", out]
    )
    assert other.exit_code == 2 and "other settings (doctor)" in other.output
    run_cli("run", "demo", "--limit", "3", "--resume", "--out", out)
    assert len(RunStore(out).episodes()) == 3


def test_markup_like_text_in_a_diagnosis_is_shown_as_text(tmp_path: Path) -> None:
    script = tmp_path / "odd.json"
    script.write_text(
        json.dumps([{"kind": "submit_diagnosis", "diagnosis": "Sepsis [/secondary] [red]"}])
    )
    out = run_cli(
        "run",
        "demo",
        "--limit",
        "1",
        "--doctor",
        f"scripted/{script}",
        "--out",
        str(tmp_path / "r"),
    )
    assert "Sepsis [/" in out  # cut to the terminal's width, but not swallowed as markup
    assert "Sepsis [/" in run_cli("show", str(tmp_path / "r"))
    assert "[red]" in run_cli("show", str(tmp_path / "r"), "--json")
