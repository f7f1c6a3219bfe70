"""The Ray executor on a real two-node Ray cluster on this machine: an experiment with an LLM doctor
on the loopback server, one worker killed during it; a run with an in-process model served by a
replica actor; events equal to a local run's; clear errors before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ray_cluster import ENV, RayCluster, two_node_cluster
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.models.tiny import build_tiny_gemma3_text
from clinsim.cli.main import app
from clinsim.environments.events import ModelCalled, comparable
from clinsim.environments.run_store import RunStore

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CLINSIM = str(Path(sys.executable).with_name("clinsim"))
PLAYER = "ray::EpisodePlayer"


def doctor_replies(body: dict[str, Any]) -> dict[str, Any]:
    """A doctor that asks twice, orders a test, then diagnoses: each reply depends only on the
    conversation, so a replayed or repeated call gets the same answer."""
    users = [m for m in body["messages"] if m.get("role") == "user"]
    last = str(users[-1].get("content") or "") if users else ""
    if len(users) <= 2:
        return {"content": f"Tell me more about that ({len(users)}, {len(last)} letters)."}
    if len(users) == 3:
        return {"content": "REQUEST TEST: Complete_Blood_Count"}
    return {"content": "DIAGNOSIS READY: Community-acquired pneumonia"}


EXPERIMENT = """
name = "llm-doctor-on-ray"

[base]
sources = ["agentclinic-medqa"]
limit = 16
doctor = "openai/doctor"
seed = 5
max_concurrency = 4
agent_options = {{ "doctor.protocol" = "agentclinic" }}
model_options = {{ base_urls = ["{url}"], timeout_s = 20 }}

[grid]
max_turns = [3, 6]
"""
CELLS = ["max_turns=3", "max_turns=6"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with two_node_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer.in_thread(latency_s=0.1, responder=doctor_replies) as running:
        yield running


def events_by_episode(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    store = RunStore(run_dir)
    return {
        record.episode_id: [comparable(event) for event in store.events(record.episode_id)]
        for record in store.episodes()
    }


def clinsim(*args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLINSIM, *args],
        env={**ENV, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finished(process: subprocess.Popen[str], timeout: float = 180) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def in_process(*args: str) -> None:
    """The local run, played in this process (no second start-up of clinsim)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def kill_a_player_midway(cluster: RayCluster, server: LoopbackServer, after: int) -> int:
    """Wait until the run has made `after` model calls, then SIGKILL one player's process."""
    deadline = time.monotonic() + 120
    while len(server.requests) < after or not cluster.workers(PLAYER):
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    victim = cluster.workers(PLAYER)[0]
    os.kill(victim, signal.SIGKILL)
    return victim


def test_an_experiment_survives_a_killed_worker_and_equals_a_local_run(
    cluster: RayCluster, server: LoopbackServer, tmp_path: Path
) -> None:
    spec = tmp_path / "exp.toml"
    spec.write_text(EXPERIMENT.format(url=server.base_url))
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"

    server.requests.clear()
    in_process("experiment", "run", str(spec), "--out", str(local_dir))
    local_calls = len(server.requests)

    server.requests.clear()
    running = clinsim(
        "experiment",
        "run",
        str(spec),
        "--out",
        str(ray_dir),
        "--executor",
        f"ray:{cluster.address}",
    )
    kill_a_player_midway(cluster, server, after=local_calls // 4)
    output = finished(running)
    assert "lost with their worker, played again" in output, output
    # the calls the lost attempts had made came back as they returned and were answered from
    # the store when played again: only a call in flight at the kill repeats, one for each
    # episode the lost player was playing (2: 4 in flight, shared by 2 players)
    repeated = len(server.requests) - local_calls
    assert 0 <= repeated <= 2, (repeated, local_calls)

    for cell in CELLS:
        local = events_by_episode(local_dir / "cells" / cell)
        on_ray = events_by_episode(ray_dir / "cells" / cell)
        assert len(local) == 16 and sorted(on_ray) == sorted(local)  # none lost, none twice
        rows = RunStore(ray_dir / "cells" / cell).episodes()
        assert len(rows) == len({r.episode_id for r in rows}) == 16
        for episode_id, events in local.items():
            assert on_ray[episode_id] == events, episode_id
        calls = [e for events in on_ray.values() for e in events if e["kind"] == "model_called"]
        assert calls and all(c["error"] is None for c in calls)


def test_a_run_with_an_in_process_model_on_replicas_equals_the_local_run(
    cluster: RayCluster, tmp_path: Path
) -> None:
    model = build_tiny_gemma3_text(tmp_path / "tiny")
    common = [
        "demo", "--limit", "2", "--trials", "2", "--seed", "9", "--doctor", f"hf/{model}",
        "--max-turns", "2", "--doctor-protocol", "agentclinic",
        "--agent-option", "doctor.max_tokens=8", "--model-option", "reuse_kv_cache=false",
        "--max-concurrency", "3",
    ]  # fmt: skip
    in_process("run", *common, "--out", str(tmp_path / "local"))
    address = f"ray:{cluster.address}"
    output = finished(
        clinsim("run", *common, "--out", str(tmp_path / "ray"), "--executor", address)
    )
    assert "Run ray" in output
    local, on_ray = events_by_episode(tmp_path / "local"), events_by_episode(tmp_path / "ray")
    assert sorted(on_ray) == ["demo/0001", "demo/0001@1", "demo/0002", "demo/0002@1"]
    assert on_ray == local
    calls = [
        e for e in RunStore(tmp_path / "ray").events("demo/0001") if isinstance(e, ModelCalled)
    ]
    assert calls and calls[0].model == f"hf/{model}" and calls[0].error is None
