"""The Ray executor before anything runs: addresses, a dead cluster, Ray missing; and the parts
that need no cluster (replica counts, routing, files shipped to nodes)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.agents.models.base import ChatRequest, ChatResponse
from clinsim.cli.main import app
from clinsim.cluster.connect import ClusterError, host_and_port
from clinsim.cluster.replicas import (
    ROUTE,
    ModelSpec,
    ReplicaModel,
    RoutedPool,
    in_process_models,
    replica_count,
)
from clinsim.cluster.shipping import Shipment, needs_demo_ehr
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.ehr.demo import demo_ehr_path, demo_ehr_target
from clinsim.experiment.execute import executor_for
from clinsim.experiment.spec import ExperimentError
from clinsim.scenarios.sets import load_scenarios

cli = CliRunner()


def test_addresses_are_read_or_refused_clearly() -> None:
    assert host_and_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert host_and_port("ray://head.example:10001") == ("head.example", 10001)
    for bad in ("head", "head:port", "ray://:10001"):
        with pytest.raises(ClusterError, match="not a cluster address"):
            host_and_port(bad)


@pytest.mark.parametrize("command", [["run", "demo"], ["experiment", "run", "EXP"]])
def test_a_dead_cluster_is_a_clear_error_before_anything_runs(
    command: list[str], tmp_path: Path
) -> None:
    spec = tmp_path / "e.toml"
    spec.write_text("[base]\nlimit = 1\ndoctor = 'oracle'\n")
    args = [str(spec) if a == "EXP" else a for a in command]
    out = tmp_path / "out"
    result = cli.invoke(app, [*args, "--out", str(out), "--executor", "ray:127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "no Ray cluster answers at 127.0.0.1:1" in text and "Traceback" not in text
    assert not out.exists()


def test_without_ray_the_executor_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(ExperimentError, match=r"pip install 'clinsim\[ray\]'"):
        executor_for("ray")
    result = cli.invoke(app, ["run", "demo", "--out", str(tmp_path / "o"), "--executor", "ray"])
    assert result.exit_code == 2 and "pip install 'clinsim[ray]'" in result.output


def test_human_roles_and_streaming_stay_local(tmp_path: Path) -> None:
    result = cli.invoke(app, ["run", "demo", "--stream", "--executor", "ray:127.0.0.1:1"])
    assert result.exit_code == 2
    assert "play in this process" in " ".join(result.output.split())


def test_replicas_one_per_gpu_group_and_one_on_cpu() -> None:
    config = resolve(RunConfig(doctor="hf/org/model")).doctor.backend
    assert config is not None
    spec = ModelSpec("hf/org/model", config.config)
    assert spec.gpus == 1
    assert replica_count(spec, gpus=0, models=1) == 1  # CPU only: one replica, no GPU
    assert replica_count(spec, gpus=8, models=1) == 8
    assert replica_count(spec, gpus=8, models=2) == 4  # two models share the GPUs
    wide = resolve(RunConfig(doctor="hf/org/model", model_options={"tensor_parallel": 2}))
    assert wide.doctor.backend is not None
    pair = ModelSpec("hf/org/model", wide.doctor.backend.config)
    assert pair.gpus == 2 and replica_count(pair, gpus=8, models=1) == 4
    assert replica_count(pair, gpus=0, models=1) == 1


def test_in_process_models_are_found_once_and_routed_to_replicas() -> None:
    plan = resolve(
        RunConfig(doctor="hf/org/model", patient="hf/org/model", judges=["rules"]),
    )
    specs = in_process_models(plan)
    assert [s.address for s in specs] == ["hf/org/model"]
    assert in_process_models(resolve(RunConfig(doctor="openai/x"))) == []

    class Replica:
        def __init__(self, name: str) -> None:
            self.name = name
            self.chat = self

        async def remote(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text=self.name)

    pool = RoutedPool({specs[0].key: [Replica("first"), Replica("second")]}, {specs[0].key: False})
    model = pool.get("hf/org/model", plan.doctor.backend.config if plan.doctor.backend else None)
    assert isinstance(model, ReplicaModel) and model.accepts_images is False

    async def ask(route: int) -> str:
        ROUTE.set(route)
        return (await model.chat(ChatRequest(messages=[]))).text

    assert asyncio.run(ask(0)) == "first" and asyncio.run(ask(3)) == "second"


def test_the_demo_ehr_is_written_once_into_a_nodes_own_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLINSIM_CACHE", str(tmp_path / "node-cache"))
    fetched: list[object] = []

    def fetch(ref: object) -> bytes:
        fetched.append(ref)
        return b"database bytes"

    shipment = Shipment(demo_ehr="ref-1")
    target = demo_ehr_target()
    assert target.is_relative_to(tmp_path / "node-cache") and not target.exists()
    assert shipment.unpack(fetch) == [target] and target.read_bytes() == b"database bytes"
    assert shipment.unpack(fetch) == [] and fetched == ["ref-1"]  # there already: not fetched
    assert demo_ehr_path() == target  # found: not built again on this node
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".part")] == []
    assert Shipment().unpack(fetch) == []


def test_only_runs_reading_the_demo_ehr_ship_it() -> None:
    demo = load_scenarios(["demo"])
    mimic = load_scenarios(["mimic-iv-demo"])[:2]
    assert not needs_demo_ehr(demo, {})
    assert needs_demo_ehr(mimic, {})
    assert not needs_demo_ehr(mimic, {"ehr_db": "/shared/ehr.duckdb"})
