"""Episodes per second on a Ray cluster against the local executor.

The LLM doctor (`openai/doctor`, AgentClinic protocol) plays the demo scenarios against the
loopback server (clinsim.agents.models.loopback), which answers every call after LATENCY seconds:
it asks twice, orders a test and diagnoses (four calls an episode). The same run is played

- by the local executor (this process, asyncio);
- by the Ray executor on a one-node and on a two-node cluster on this machine (`ray start`, one
  CPU a node, as the tests do), with players as asynchronous actors (what clinsim uses);
- by one Ray task per episode on the two-node cluster (each task builds the run's components
  once per worker process, then plays its episode), to compare the two ways of placing episodes.

Prints, for each: wall time, episodes per second (whole run, and between the first and the last
stored episode, which leaves out starting players), and the overhead per episode against the
local executor at concurrency 1 (LATENCY-bound episodes played one at a time).
Usage: python bench/bench_ray.py [--latency 0.2] [--trials 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from ray_cluster import ENV, RayCluster

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cluster.executor import RayExecutor
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.run_store import EpisodeRecord, RunStore
from clinsim.experiment.execute import LocalExecutor, RunTask
from clinsim.runner import Runner, episode_jobs
from clinsim.scenarios.sets import load_scenarios


def doctor_replies(body: dict[str, Any]) -> dict[str, Any]:
    users = [m for m in body["messages"] if m.get("role") == "user"]
    if len(users) <= 2:
        return {"content": f"Tell me more about that ({len(users)})."}
    if len(users) == 3:
        return {"content": "REQUEST TEST: Complete_Blood_Count"}
    return {"content": "DIAGNOSIS READY: Community-acquired pneumonia"}


def config(url: str, trials: int, concurrency: int) -> RunConfig:
    return RunConfig(
        sources=["demo"],
        doctor="openai/doctor",
        trials=trials,
        max_turns=6,
        max_concurrency=concurrency,
        agent_options={"doctor.protocol": "agentclinic"},
        model_options={"base_urls": [url], "timeout_s": 30, "max_concurrency": 64},
    )


def play(executor: Any, cfg: RunConfig, root: Path, name: str) -> dict[str, float]:
    plan = resolve(cfg)
    scenarios = load_scenarios(cfg.sources)
    store = RunStore(root / name)
    store.create(name, plan.stored().model_dump(mode="json"))
    done: list[float] = []

    def stored(_record: EpisodeRecord) -> None:
        done.append(time.perf_counter())

    started = time.perf_counter()
    result = executor.run_cell(RunTask(name, plan, scenarios, store, set()), stored)
    wall = time.perf_counter() - started
    assert result.played == len(scenarios) * cfg.trials, result
    steady = (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 else float("nan")
    return {"episodes": result.played, "wall": wall, "eps": result.played / wall, "steady": steady}


def play_as_tasks(ray: Any, cfg: RunConfig) -> dict[str, float]:
    """One Ray task per episode (components built once per worker process)."""
    scenarios = load_scenarios(cfg.sources)
    jobs = episode_jobs(scenarios, cfg.trials)
    shared = ray.put((cfg, scenarios))

    @ray.remote(num_cpus=1, max_retries=0)
    def episode(data: Any, index: int, trial: int, episode_id: str) -> int:
        global _RUNNER
        run_config, found = data
        if "_RUNNER" not in globals():
            _RUNNER = Runner(resolve(run_config), RunStore(tempfile.mkdtemp()), "task")
        events = asyncio.run(_RUNNER.play(found[index], episode_id, trial))
        return len(events)

    trials = cfg.trials
    started = time.perf_counter()
    done: list[float] = []
    pending = [
        episode.remote(shared, job.position // trials, job.trial, job.episode_id) for job in jobs
    ]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        ray.get(ready)
        done.append(time.perf_counter())
    wall = time.perf_counter() - started
    steady = (len(done) - 1) / (done[-1] - done[0])
    return {"episodes": len(jobs), "wall": wall, "eps": len(jobs) / wall, "steady": steady}


def show(label: str, figures: dict[str, float]) -> None:
    print(
        f"{label:<34} {figures['episodes']:>4.0f} episodes  wall {figures['wall']:6.1f} s  "
        f"{figures['eps']:5.2f} ep/s  steady {figures['steady']:5.2f} ep/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in ENV.items() if k.startswith("RAY_")})
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    with LoopbackServer.in_thread(latency_s=args.latency, responder=doctor_replies) as server:
        wide = config(server.base_url, args.trials, args.concurrency)
        serial = config(server.base_url, 1, 1)
        local = play(LocalExecutor(), wide, root, "local")
        show(f"local, concurrency {args.concurrency}", local)
        local_one = play(LocalExecutor(), serial, root, "local-1")
        show("local, concurrency 1", local_one)
        cluster = RayCluster(Path(tempfile.mkdtemp(prefix="cray", dir="/tmp")))
        try:
            cluster.start_head()
            ray_figures = measure_ray(cluster, wide, serial, root, args.concurrency)
        finally:
            cluster.stop()
    startup = (ray_figures["one"]["wall"] - local["wall"]) / local["episodes"]
    steady = 1 / ray_figures["serial"]["steady"] - 1 / local_one["steady"]
    print(
        f"Ray against local, concurrency {args.concurrency}, whole run: "
        f"{startup * 1000:+.0f} ms an episode (starting players included)"
    )
    print(f"Ray against local, concurrency 1, between stored episodes: {steady * 1000:+.0f} ms "
          f"an episode ({1000 / local_one['steady']:.0f} ms an episode locally)")  # fmt: skip


def measure_ray(
    cluster: RayCluster, wide: RunConfig, serial: RunConfig, root: Path, concurrency: int
) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    executor = RayExecutor(cluster.address)
    executor.open()
    found["one"] = play(executor, wide, root, "ray-1")
    show(f"ray, 1 node, concurrency {concurrency}", found["one"])
    found["serial"] = play(executor, serial, root, "ray-serial")
    show("ray, 1 node, concurrency 1", found["serial"])
    executor.close()
    cluster.add_node()
    executor = RayExecutor(cluster.address)
    executor.open()
    found["two"] = play(executor, wide, root, "ray-2")
    show(f"ray, 2 nodes, concurrency {concurrency}", found["two"])
    found["tasks"] = play_as_tasks(executor.ray, wide)
    show("ray tasks, 2 nodes (2 at once)", found["tasks"])
    executor.close()
    return found


if __name__ == "__main__":
    main()
