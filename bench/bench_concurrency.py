"""Concurrency speed-up against an OpenAI-compatible server with a fixed latency.

Two measurements, both against the loopback server (clinsim.agents.models.loopback) answering
every call after LATENCY seconds:

1. model calls: an "episode" is CALLS sequential chat calls through the `openai` backend;
   N episodes run at once (asyncio);
2. end to end: `Runner` (what `clinsim run --max-concurrency N` drives) plays real scenarios with
   the LLM doctor and patient both at `openai/...` addresses; the server's replies make the
   doctor ask questions until the turn budget makes it diagnose.

Prints episodes per second at N = 1, 4, 16 and the speed-up over N = 1.
Usage: python bench/bench_concurrency.py [--latency 0.2] [--calls 6] [--episodes 32]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from clinsim.agents.models.base import ChatMessage, ChatRequest
from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.models.registry import load_model

LEVELS = (1, 4, 16)


async def _episode(model: object, calls: int, episode: int) -> None:
    messages = [ChatMessage(role="system", content="You are a physician.")]
    for turn in range(calls):
        messages.append(ChatMessage(role="user", content=f"episode {episode} turn {turn}"))
        reply = await model.chat(ChatRequest(messages=messages, max_tokens=32))  # type: ignore[attr-defined]
        messages.append(ChatMessage(role="assistant", content=reply.text))


async def model_level(base_url: str, n: int, episodes: int, calls: int) -> float:
    model = load_model("openai/bench", {"base_urls": [base_url], "max_concurrency": 64})
    slots = asyncio.Semaphore(n)

    async def one(episode: int) -> None:
        async with slots:
            await _episode(model, calls, episode)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(episodes)))
    return episodes / (time.perf_counter() - started)


def end_to_end(base_url: str, n: int, episodes: int, turns: int) -> tuple[float, int]:
    from clinsim.components import resolve
    from clinsim.config import RunConfig
    from clinsim.environments.run_store import RunStore
    from clinsim.runner import Runner
    from clinsim.scenarios.sets import load_scenarios

    config = RunConfig(
        sources=["agentclinic-medqa"],
        doctor="openai/doctor",
        patient="openai/patient",
        max_turns=turns,
        max_concurrency=n,
        agent_options={"doctor.protocol": "agentclinic"},
        model_options={"base_urls": [base_url], "max_concurrency": 64},
    )
    scenarios = load_scenarios(config.sources)[:episodes]
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench")
        plan = resolve(config)
        store.create("bench", plan.stored().model_dump(mode="json"))
        runner = Runner(plan, store, "bench")
        started = time.perf_counter()
        records = asyncio.run(runner.run(scenarios))
        rate = len(records) / (time.perf_counter() - started)
        failed = [r for r in records if r.termination not in ("diagnosed", "turn_limit")]
        if failed:
            raise SystemExit(f"episode {failed[0].episode_id} failed: {failed[0].detail}")
        calls = sum(
            event.kind == "model_called" for r in records for event in store.events(r.episode_id)
        )
    return rate, calls // max(len(records), 1)


def _print(title: str, rates: dict[int, float]) -> None:
    print(title)
    for n, rate in rates.items():
        print(f"  N={n:<3} {rate:7.2f} episodes/s   speed-up {rate / rates[1]:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per call (s)")
    parser.add_argument("--calls", type=int, default=6, help="model calls per episode")
    parser.add_argument("--episodes", type=int, default=32, help="episodes per level")
    parser.add_argument("--turns", type=int, default=3, help="doctor turns, end-to-end variant")
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    with LoopbackServer.in_thread(latency_s=args.latency, max_lifetime_s=1800) as server:
        print(f"server latency {args.latency:g} s; {args.episodes} episodes per level")
        rates = {
            n: asyncio.run(model_level(server.base_url, n, args.episodes, args.calls))
            for n in LEVELS
        }
        _print(f"model calls ({args.calls} sequential calls per episode):", rates)
        if args.skip_end_to_end:
            return
        e2e: dict[int, float] = {}
        for n in LEVELS:
            e2e[n], calls = end_to_end(server.base_url, n, args.episodes, args.turns)
        title = f"end to end (Runner, LLM doctor + patient, {args.turns} turns, {calls} calls):"
        _print(title, e2e)


if __name__ == "__main__":
    main()
