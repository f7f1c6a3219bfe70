"""Every model call is recorded: an episode re-executes exactly from its recording, and a fork
continues it from a turn with another doctor, sharing the prefix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.components import resolve
from clinsim.config import Fork, RunConfig
from clinsim.environments.run_store import RunStore
from clinsim.replaying import first_difference, fork_episode, rerun_episode
from clinsim.runner import Runner
from clinsim.scenarios.sets import load_scenarios

cli = CliRunner()


def clinic(body: dict[str, Any]) -> dict[str, Any]:
    """A deterministic doctor ('doc') and patient ('pat') speaking AgentClinic's protocol."""
    messages = body["messages"]
    if body["model"] in ("ja", "jb"):
        return {"content": "Yes, same diagnosis." if body["model"] == "ja" else "No, different."}
    if body["model"] == "pat":
        return {"content": f"I have had it for {len(messages)} days."}
    turn = sum(m["role"] == "assistant" for m in messages)
    script = [
        "What brings you in?",
        "How long has it been?",
        "REQUEST TEST: Blood tests",
        "DIAGNOSIS READY: Myasthenia gravis",
    ]
    return {"content": script[min(turn, len(script) - 1)]}


def config(url: str) -> RunConfig:
    return RunConfig.model_validate(
        {
            "sources": ["agentclinic-medqa"],
            "doctor": "openai/doc",
            "patient": "openai/pat",
            "agent_options": {"doctor.protocol": "agentclinic"},
            "model_options": {"base_urls": [url], "max_retries": 0, "timeout_s": 10},
        }
    )


def test_a_run_killed_midway_reruns_exactly_from_its_recording(tmp_path: Path) -> None:
    scenarios = load_scenarios(["agentclinic-medqa"])[:4]
    store = RunStore(tmp_path / "r")
    with LoopbackServer.in_thread(responder=clinic) as server:
        cfg = config(server.base_url)
        store.create("r", resolve(cfg).stored().model_dump(mode="json"))

        async def killed() -> None:
            done = 0

            def on_done(_record: object) -> None:
                nonlocal done
                done += 1
                if done == 2:
                    raise asyncio.CancelledError

            with pytest.raises(asyncio.CancelledError):
                await Runner(resolve(cfg), store, "r").run(scenarios, on_done=on_done)

        asyncio.run(killed())
        served = len(server.requests)
    finished = store.episodes()
    assert len(finished) >= 2 and served > 0
    for record in finished:  # the server is gone: every answer comes from the recording
        events = store.events(record.episode_id)
        assert any(e.kind == "model_called" for e in events)
        assert record.termination == "diagnosed"
        result = asyncio.run(rerun_episode(tmp_path / "r", record.episode_id))
        assert result.identical, result.difference
        out = cli.invoke(app, ["replay", str(tmp_path / "r"), record.episode_id, "--rerun"])
        assert out.exit_code == 0 and "identical" in out.output


def recorded_run(run_dir: Path, *extra: str) -> str:
    """One episode played by the loopback clinic through the CLI; returns its episode id.
    The server is stopped afterwards: whatever comes next can only use the recording."""
    with LoopbackServer.in_thread(responder=clinic) as server:
        args = ["run", "agentclinic-medqa", "--limit", "1", "--doctor", "openai/doc"]
        args += ["--patient", "openai/pat", "--doctor-protocol", "agentclinic", *extra]
        result = cli.invoke(app, [*args, "--base-url", server.base_url, "--out", str(run_dir)])
        assert result.exit_code == 0, result.output
    return RunStore(run_dir).episodes()[0].episode_id


def test_rerun_reports_a_difference_instead_of_guessing(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    store = RunStore(tmp_path / "r")
    events = store.events(episode)
    # Tamper with the recording: the patient's first recorded answer no longer matches.
    import duckdb

    with duckdb.connect(str(store.path)) as con:
        con.execute(
            "UPDATE events SET payload = json_merge_patch(payload, '{\"messages\": []}') "
            "WHERE kind = 'model_called' AND seq = (SELECT min(seq) FROM events "
            "WHERE kind = 'model_called' AND payload->>'role' = 'patient')"
        )
    out = cli.invoke(app, ["replay", str(tmp_path / "r"), episode, "--rerun"])
    assert out.exit_code == 1
    assert "DIFFERENT from event" in out.output
    assert len(events) > 5


def test_a_fork_shares_the_prefix_and_continues_with_another_doctor(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    original = RunStore(tmp_path / "r").events(episode)
    fork = tmp_path / "fork"
    result = asyncio.run(fork_episode(tmp_path / "r", episode, Fork(doctor="oracle", turn=3), fork))
    assert result.identical and len(result.original) > 4
    forked = RunStore(fork).events(episode)
    prefix = [e for e in original if e.turn < 3]
    assert first_difference(prefix, forked[: len(prefix)]) is None
    after = [e for e in forked if e.turn >= 3]
    assert after[0].kind == "test_ordered"  # the oracle orders what the scenario holds
    assert forked[-1].kind == "episode_ended"
    assert RunStore(fork).episodes()[0].correct
    out = cli.invoke(
        app, ["replay", str(tmp_path / "r"), episode, "--fork-at", "2", "--doctor", "oracle"]
    )
    assert out.exit_code == 0, out.output
    assert "shares the original's" in out.output


def test_two_model_judges_replay_their_own_verdicts(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r", "--judge", "openai/ja", "--judge", "openai/jb")
    events = RunStore(tmp_path / "r").events(episode)
    assert [e.match for e in events if e.kind == "diagnosis_judged"] == [True, False]
    assert asyncio.run(rerun_episode(tmp_path / "r", episode)).identical


def test_a_fork_reruns_from_its_own_recording(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    # the oracle takes over at turn 2; the patient's first answer comes from the recording
    args = ["replay", str(tmp_path / "r"), episode, "--fork-at", "2", "--doctor", "oracle"]
    out = cli.invoke(app, [*args, "--out", str(tmp_path / "f")])
    assert out.exit_code == 0, out.output
    config = RunStore(tmp_path / "f").run_info().config
    assert config["run"]["doctor"] == "openai/doc" and config["fork"]["doctor"] == "oracle"
    shown = cli.invoke(app, ["show", str(tmp_path / "f")])
    assert "doctor=openai/doc for turn 1, then oracle from turn 2 " in shown.output
    result = asyncio.run(rerun_episode(tmp_path / "f", episode))
    assert result.identical, result.difference


def test_bad_forks_fail_cleanly_and_leave_nothing(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    fork = ["replay", str(tmp_path / "r"), episode, "--fork-at", "2", "--out", str(tmp_path / "f")]
    for doctor, problem in [
        ("nobody", "no doctor called 'nobody' (known: baseline, human, oracle, scripted"),
        ("openai/other", "openai/other: no base URL; pass --base-url"),
    ]:
        out = cli.invoke(app, [*fork, "--doctor", doctor])
        assert out.exit_code == 2 and f"error: {problem}" in out.output, out.output
        assert not (tmp_path / "f").exists()
    options = cli.invoke(app, [*fork, "--doctor", "oracle", "--doctor-protocol", "tools"])
    assert "no selected component takes 'protocol' (doctor 'oracle')" in options.output
    assert not (tmp_path / "f").exists()


def test_a_fork_takes_the_model_options_of_a_run(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    with LoopbackServer.in_thread(responder=clinic) as server:
        args = ["replay", str(tmp_path / "r"), episode, "--fork-at", "2", "--doctor", "openai/doc"]
        args += ["--base-url", server.base_url, "--doctor-protocol", "agentclinic"]
        args += ["--model-option", "max_retries=0", "--out", str(tmp_path / "f")]
        out = cli.invoke(app, args)
    assert out.exit_code == 0, out.output
    stored = RunStore(tmp_path / "f").run_info().config
    assert stored["fork"]["model_options"] == {"max_retries": 0, "base_urls": [server.base_url]}
    assert stored["fork"]["agent_options"] == {"doctor.protocol": "agentclinic"}
    events = RunStore(tmp_path / "f").events(episode)
    assert events[-1].kind == "episode_ended" and events[-1].reason == "diagnosed"


def test_a_person_takes_over_a_recorded_episode(tmp_path: Path) -> None:
    episode = recorded_run(tmp_path / "r")
    args = ["replay", str(tmp_path / "r"), episode, "--fork-at", "2", "--doctor", "human"]
    out = cli.invoke(app, [*args, "--out", str(tmp_path / "f")], input="/dx Myasthenia gravis\n")
    assert out.exit_code == 0, out.output
    assert "What brings you in?" in out.output  # the transcript so far, before the person's turn
    events = RunStore(tmp_path / "f").events(episode)
    submitted = [e for e in events if e.kind == "diagnosis_submitted"]
    assert [(e.turn, e.diagnosis) for e in submitted] == [(2, "Myasthenia gravis")]
    shown = cli.invoke(app, ["show", str(tmp_path / "f")])
    assert "then human from turn 2" in shown.output
