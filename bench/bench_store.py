"""The run store's cost: writing finished episodes, its share of an offline run, stored size.

    python bench/bench_store.py [--part write|run|size|all] [--episodes 1000] [--reps 2]

write  Real offline episodes (baseline doctor on agentclinic-medqa-ext, seed 0) are played once,
       then written one after the other into a fresh store the way a run writes them; prints the
       median and p90 milliseconds per episode, overall and for episodes of 40-46 events.
run    An offline run of EPISODES episodes (every bundled set, repeated until there are enough)
       played by `Runner` twice per repetition, interleaved: once writing the store, once with
       writes discarded. Prints both wall times and process CPU times (every thread; the
       steadier figure on a shared machine) and the share writing adds to each.
size   An LLM doctor (JSON protocol, against the loopback server, never diagnosing) with the fact
       patient for 5, 20 and 80 turns; prints the stored payload bytes per episode and the
       80-turn / 20-turn ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments import run_store
from clinsim.environments.run_store import RunStore, summarise
from clinsim.runner import Runner, episode_ids
from clinsim.scenarios.sets import bundled_sets, load_scenarios

SETS = [s.name for s in bundled_sets()]


def _writer_api() -> Any:
    """The store writer of this clinsim, or None where each write opens the store itself."""
    try:
        from clinsim.environments import store_writer
    except ImportError:
        return None
    return store_writer


def _played(limit: int) -> list[tuple[Any, list[Any]]]:
    config = RunConfig(sources=["agentclinic-medqa-ext"], doctor="baseline", seed=0)
    scenarios = load_scenarios(config.sources)[:limit]
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(resolve(config), RunStore(tmp), "bench")

        async def play_all() -> list[tuple[Any, list[Any]]]:
            out = []
            for position, (scenario, eid) in enumerate(
                zip(scenarios, episode_ids(scenarios), strict=True)
            ):
                events = await runner.play(scenario, eid)
                out.append((summarise(eid, position, scenario, events, 0.0), events))
            return out

        return asyncio.run(play_all())


def _write_times(played: list[tuple[Any, list[Any]]], run_dir: Path) -> list[float]:
    store = RunStore(run_dir)
    store.create("bench", {})
    api = _writer_api()
    times = []
    if api is None:
        for record, events in played:
            started = time.perf_counter()
            store.write_episode("bench", record, events)
            times.append(time.perf_counter() - started)
        return times
    with api.StoreWriter(store, "bench") as writer:
        for record, events in played:
            started = time.perf_counter()
            writer.episode_finished(record, events).result()
            times.append(time.perf_counter() - started)
    return times


def part_write(episodes: int) -> None:
    played = _played(episodes)
    with tempfile.TemporaryDirectory() as tmp:
        times = _write_times(played, Path(tmp) / "run")
    sizes = [len(events) for _record, events in played]
    near = [t for t, n in zip(times, sizes, strict=True) if 40 <= n <= 46]
    ms = [t * 1000 for t in times]
    print(f"store write: {len(times)} episodes, {statistics.mean(sizes):.1f} events on average")
    print(f"  per episode: median {statistics.median(ms):.2f} ms, p90 {_p90(ms):.2f} ms")
    if near:
        near_ms = [t * 1000 for t in near]
        print(
            f"  40-46 events ({len(near)} episodes): median {statistics.median(near_ms):.2f} ms,"
            f" p90 {_p90(near_ms):.2f} ms"
        )


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


class _Discard:
    """Takes what a run writes and keeps nothing (the run's writes left out)."""

    def __init__(self) -> None:
        from concurrent.futures import Future

        self._future: Future[None] = Future()
        self._future.set_result(None)

    def call_finished(self, episode_id: str, event: Any) -> None:
        return None

    def episode_finished(self, record: Any, events: list[Any]) -> Any:
        return self._future

    def recorded_calls(self, episode_id: str) -> list[Any]:
        return []

    def close(self, wait_s: float | None = None) -> dict[str, str]:
        return {}


class _DiscardingStore(RunStore):
    def write_episode(self, run_id: str, record: Any, events: list[Any]) -> None:
        return None


def _offline_run(episodes: int, run_dir: Path, write: bool) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of the process) of one offline run."""
    config = RunConfig(sources=SETS, doctor="baseline", seed=0)
    base = load_scenarios(SETS)
    scenarios = (base * (episodes // len(base) + 1))[:episodes]
    plan = resolve(config)
    api = _writer_api()
    store = RunStore(run_dir) if write or api is not None else _DiscardingStore(run_dir)
    store.create("bench", plan.stored().model_dump(mode="json"))
    runner = Runner(plan, store, "bench")
    if api is not None and not write:
        runner.writer = _Discard()
    started, cpu = time.perf_counter(), time.process_time()
    records = asyncio.run(runner.run(scenarios))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stored = len(store.episodes())
    assert stored == (episodes if write else 0), (stored, len(records))
    return wall, cpu


def part_run(episodes: int, reps: int) -> None:
    with_store: list[tuple[float, float]] = []
    without: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            for write, walls in ((False, without), (True, with_store)):
                walls.append(_offline_run(episodes, Path(tmp) / f"{rep}-{write}", write))
    print(f"offline run, {episodes} episodes, baseline doctor, every bundled set:")
    for name, index in (("wall", 0), ("CPU", 1)):
        a = statistics.median(w[index] for w in with_store)
        b = statistics.median(w[index] for w in without)
        print(f"  {name} time, writes discarded: {_seconds(without, index)} (median {b:.1f})")
        print(f"  {name} time, writing the store: {_seconds(with_store, index)} (median {a:.1f})")
        print(f"  writing adds {100 * (a - b) / b:+.1f}% to the {name} time")


def _seconds(runs: list[tuple[float, float]], index: int) -> str:
    return ", ".join(f"{run[index]:.1f}" for run in runs) + " s"


def _asking_doctor(body: dict[str, Any]) -> dict[str, Any]:
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    question = f"Question {turn}: tell me more about how the symptoms changed over the last days?"
    return {"content": json.dumps({"action": "ask_patient", "question": question})}


def part_size() -> None:
    from clinsim.agents.models.loopback import LoopbackServer

    sizes: dict[int, float] = {}
    with (
        LoopbackServer.in_thread(responder=_asking_doctor) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for turns in (5, 20, 80):
            config = RunConfig.model_validate(
                {
                    "sources": ["agentclinic-medqa"],
                    "doctor": "openai/doc",
                    "max_turns": turns,
                    "agent_options": {"doctor.protocol": "json"},
                    "model_options": {"base_urls": [server.base_url], "max_retries": 0},
                }
            )
            store = RunStore(Path(tmp) / f"t{turns}")
            plan = resolve(config)
            store.create("bench", plan.stored().model_dump(mode="json"))
            scenarios = load_scenarios(config.sources)[:3]
            records = asyncio.run(Runner(plan, store, "bench").run(scenarios))
            assert all(r.termination == "turn_limit" for r in records), records
            sizes[turns] = _payload_bytes(store) / len(records)
    print("stored payload per episode, LLM doctor (JSON protocol), fact patient:")
    for turns, size in sizes.items():
        print(f"  {turns:>2} turns: {size / 1024:8.1f} KiB")
    print(f"  80 turns / 20 turns: {sizes[80] / sizes[20]:.1f}x")


def _payload_bytes(store: RunStore) -> int:
    import duckdb

    with duckdb.connect(str(store.path), read_only=True) as con:
        row = con.execute("SELECT sum(strlen(CAST(payload AS VARCHAR))) FROM events").fetchone()
    return int(row[0]) if row and row[0] else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=("write", "run", "size", "all"), default="all")
    parser.add_argument("--episodes", type=int, default=1000, help="episodes of the run part")
    parser.add_argument("--write-episodes", type=int, default=214, help="episodes written")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    print(f"run store module: {run_store.__file__}")
    if args.part in ("write", "all"):
        part_write(args.write_episodes)
    if args.part in ("size", "all"):
        part_size()
    if args.part in ("run", "all"):
        part_run(args.episodes, args.reps)


if __name__ == "__main__":
    main()
