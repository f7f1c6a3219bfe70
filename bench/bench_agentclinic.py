"""End to end against AgentClinic's own loop, both on the same loopback model server.

    python bench/bench_agentclinic.py [--episodes 100] [--latency 0.2] [--only NAMES]

Both systems play the first `--episodes` AgentClinic-MedQA cases with every role played by a
model (doctor, patient, measurement reader, judge / moderator) served by one loopback
OpenAI-compatible server in its own process, answering each call after `--latency` seconds. The
server answers each role the same way for both systems, so both make the same calls:

- doctor: on its first turn a question, on its second "REQUEST TEST: Complete_Blood_Count", then
  questions until turn K, where it answers "DIAGNOSIS READY: ..."; K (12 to 20) is fixed per
  case by a hash of the case's objective, which both systems put in the doctor's system prompt,
  and the turn is read from the prompt (clinsim's "[Turn N of M", AgentClinic's "You have asked
  N questions so far");
- patient: one fixed sentence; measurement: one fixed "RESULTS: ..." line; judge: "Yes".

An episode is K doctor calls, K - 2 patient calls, one measurement call and one judge call.
The bench checks that both systems made exactly the same calls per role, and fails if not.

Measured, one after the other (wall time for all episodes):
- clinsim, `Runner` (what `clinsim run` drives, every episode written to a run store), with
  `--max-concurrency` 16 and 1, `--doctor-protocol agentclinic`;
- AgentClinic's `agentclinic.py` as published (../shared/peers/agentclinic, MIT; read from
  there, never copied into clinsim), its `main()` loop run unmodified in this process, with
  its `openai` module replaced by a small client that posts the same chat requests to the
  loopback server (each role has its own model name: gpt4 for the doctor, gpt4o for the
  patient, gpt-4o-mini for the measurement reader, gpt3.5 for the moderator, mapped to the
  server's role names), and its other model libraries (anthropic, replicate, transformers),
  which this loop never calls, stood in for; once with its one-second sleep per turn removed,
  once as shipped (about 40 minutes);
- a bare client (aiohttp, one-line prompts) making the same calls per episode, 16 episodes at
  once: the least time any client needs on this server and machine, since episodes of 24 to 40
  calls spread over 16 slots finish unevenly.

`--only` picks the measurements (default: all), in the order given.

Prints each system's time, episodes per second and the speed-ups. Without ../shared (the
AgentClinic script or its data) the bench says so and exits without measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import types
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
AGENTCLINIC = SHARED / "peers" / "agentclinic" / "agentclinic.py"
CASES = SHARED / "datasets" / "agentclinic" / "agentclinic_medqa.jsonl"
MAX_TURNS = 20
FEWEST_TURNS = 12
ROLE_MODELS = {  # AgentClinic's per-role model choice -> the model name it sends -> the role
    "doctor": ("gpt4", "gpt-4-turbo-preview"),
    "patient": ("gpt4o", "gpt-4o"),
    "measurement": ("gpt-4o-mini", "gpt-4o-mini"),
    "judge": ("gpt3.5", "gpt-3.5-turbo"),
}
ROLE_OF_MODEL = {sent: role for role, (_, sent) in ROLE_MODELS.items()}
PATIENT_REPLY = "It started about three days ago and it has been getting worse since."
MEASUREMENT_REPLY = "RESULTS: Complete blood count within normal limits."
DIAGNOSIS = "Myasthenia gravis"

# ------------------------------------------------------------------ the server's roles


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def diagnosis_turn(objective: str) -> int:
    """The turn (1-based) on which the doctor diagnoses this case."""
    return FEWEST_TURNS + zlib.crc32(objective.encode()) % (MAX_TURNS - FEWEST_TURNS + 1)


def doctor_turn(messages: list[dict[str, Any]]) -> tuple[int, str]:
    """(0-based turn, case objective) read from a doctor request of either system."""
    system = _text(messages[0])
    found = re.search(r"Below is all of the information you have\. (.*?)\n\n", system, re.S)
    objective = found.group(1).rstrip(" .") if found else ""
    clinsim = re.search(r"\[Turn (\d+) of \d+", _text(messages[-1]))
    if clinsim:
        return int(clinsim.group(1)) - 1, objective
    agentclinic = re.search(r"You have asked (\d+) questions so far", system)
    if agentclinic:
        return int(agentclinic.group(1)), objective
    raise ValueError("a doctor request that names no turn")


def role_reply(body: dict[str, Any]) -> dict[str, Any]:
    """The loopback server's answer to one chat request, by the role named in `model`."""
    role = body.get("model")
    if role == "patient":
        return {"content": PATIENT_REPLY}
    if role == "measurement":
        return {"content": MEASUREMENT_REPLY}
    if role == "judge":
        return {"content": "Yes"}
    turn, objective = doctor_turn(body["messages"])
    if turn + 1 >= diagnosis_turn(objective):
        return {"content": f"DIAGNOSIS READY: {DIAGNOSIS}"}
    if turn == 1:
        return {"content": "REQUEST TEST: Complete_Blood_Count"}
    return {"content": f"Can you tell me more about how you have been feeling? ({turn + 1})"}


class _Tally(list[Any]):
    """Keeps no request bodies (the server would otherwise hold every prompt it saw)."""

    def append(self, item: Any) -> None:
        pass


def serve(latency: float) -> None:
    """The server process: print the port, then serve until stdin closes."""
    from clinsim.agents.models.loopback import LoopbackServer

    async def run() -> None:
        server = LoopbackServer(
            latency_s=latency, responder=role_reply, max_lifetime_s=4 * 3600, requests=_Tally()
        )
        await server.start()
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop()

    asyncio.run(run())


@contextlib.contextmanager
def server_process(latency: float) -> Iterator[str]:
    command = [sys.executable, __file__, "--serve", "--latency", str(latency)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None and p.stdin is not None
        port = p.stdout.readline().strip()
        if not port.isdigit():
            raise SystemExit("the loopback server did not start")
        try:
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            p.stdin.close()
            p.wait(30)


# ------------------------------------------------------------------ the two systems


@dataclass
class Result:
    seconds: float
    calls: Counter[str]


def run_clinsim(base_url: str, episodes: int, concurrency: int) -> Result:
    from clinsim.components import resolve
    from clinsim.config import RunConfig
    from clinsim.environments.run_store import RunStore
    from clinsim.runner import Runner, freeze_setup
    from clinsim.scenarios.sets import load_scenarios

    config = RunConfig(
        sources=["agentclinic-medqa"],
        doctor="openai/doctor",
        patient="openai/patient",
        measurement="openai/measurement",
        judges=["openai/judge"],
        max_turns=MAX_TURNS,
        max_concurrency=concurrency,
        agent_options={"doctor.protocol": "agentclinic"},
        model_options={"base_urls": [base_url], "max_concurrency": 64},
    )
    scenarios = load_scenarios(config.sources)[:episodes]
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench")
        plan = resolve(config)
        store.create("bench", plan.stored().model_dump(mode="json"))
        runner = Runner(plan, store, "bench")
        freeze_setup()  # as `clinsim run` does
        started = time.perf_counter()
        records = asyncio.run(runner.run(scenarios))
        seconds = time.perf_counter() - started
        failed = [r for r in records if r.termination != "diagnosed"]
        if failed or len(records) != len(scenarios):
            detail = failed[0].detail if failed else "episodes missing"
            raise SystemExit(f"clinsim: {len(failed)} episodes failed: {detail}")
        calls = Counter(
            event.role
            for r in records
            for event in store.events(r.episode_id)
            if event.kind == "model_called"
        )
    return Result(seconds, calls)


def run_floor(base_url: str, episodes: int, concurrency: int) -> Result:
    """The same calls per episode as both systems make (K doctor, K - 2 patient, one
    measurement and one judge call, one after the other), made by a bare aiohttp loop with a
    one-line prompt, `concurrency` episodes at once: what any client would take on this server
    and machine, the scheduling of episodes of unequal length included."""
    import aiohttp

    objectives = [case_objective(line) for line in CASES.read_text().splitlines()[:episodes]]
    plans = [
        ["doctor"] * turns + ["patient"] * (turns - 2) + ["measurement", "judge"]
        for turns in map(diagnosis_turn, objectives)
    ]
    calls: Counter[str] = Counter()

    async def play() -> None:
        slots = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def episode(roles: list[str]) -> None:
                async with slots:
                    for role in roles:  # the server answers any role's fixed reply alike
                        body = {"model": "patient", "messages": [{"role": "user", "content": role}]}
                        async with session.post(f"{base_url}/chat/completions", json=body) as r:
                            r.raise_for_status()
                            await r.read()
                        calls[role] += 1

            await asyncio.gather(*(episode(roles) for roles in plans))

    started = time.perf_counter()
    asyncio.run(play())
    return Result(time.perf_counter() - started, calls)


def case_objective(line: str) -> str:
    """A case's objective as the doctor's system prompt of either system states it."""
    return str(json.loads(line)["OSCE_Examination"]["Objective_for_Doctor"]).rstrip(" .")


class LoopbackChatCompletion:
    """Stands in for `openai.ChatCompletion` (openai 0.28, which AgentClinic calls): the same
    request, posted to the loopback server with the role's model name, over one kept-alive
    HTTP session as that client did."""

    def __init__(self, base_url: str):
        import requests

        self.url = f"{base_url}/chat/completions"
        self.session = requests.Session()
        self.calls: Counter[str] = Counter()
        self.errors: list[str] = []

    def create(self, model: str, messages: list[dict[str, Any]], **params: Any) -> Any:
        role = ROLE_OF_MODEL[model]
        try:
            reply = self.session.post(
                self.url, json={"model": role, "messages": messages, **params}, timeout=60
            )
            reply.raise_for_status()
        except Exception as exc:  # AgentClinic would retry after 20 s: make it visible
            self.errors.append(f"{type(exc).__name__}: {exc}")
            raise
        self.calls[role] += 1
        return reply.json()


def load_agentclinic() -> types.ModuleType:
    """AgentClinic's script as a module. The model libraries it imports (anthropic, replicate,
    transformers, and openai, which `run_agentclinic` replaces) are stood in for while it loads:
    this loop never calls the first three."""
    stand_ins = {}
    for name in ("anthropic", "replicate", "openai", "transformers"):
        stub = types.ModuleType(name)
        stub.pipeline = None  # type: ignore[attr-defined]
        stand_ins[name] = stub
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        spec = importlib.util.spec_from_file_location("agentclinic_published", AGENTCLINIC)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


class _NoTurnSleep:
    """`time` for AgentClinic with the one-second sleep after each turn removed."""

    def sleep(self, seconds: float) -> None:
        if seconds != 1.0:
            time.sleep(seconds)


def run_agentclinic(base_url: str, episodes: int, sleep: bool) -> Result:
    module = load_agentclinic()
    chat = LoopbackChatCompletion(base_url)
    module.openai = types.SimpleNamespace(ChatCompletion=chat, api_key=None)
    if not sleep:
        module.time = _NoTurnSleep()
    choice = {role: llm for role, (llm, _) in ROLE_MODELS.items()}
    with contextlib.chdir(CASES.parent), contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        module.main(
            None, None, "llm", "None", "None",
            choice["doctor"], choice["patient"], choice["measurement"], choice["judge"],
            episodes, "MedQA", False, MAX_TURNS,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    if chat.errors:
        raise SystemExit(f"AgentClinic: {len(chat.errors)} failed calls: {chat.errors[0]}")
    return Result(seconds, chat.calls)


SYSTEMS: dict[str, tuple[str, Any]] = {
    "clinsim16": ("clinsim, 16 at once", lambda url, n: run_clinsim(url, n, 16)),
    "clinsim1": ("clinsim, 1 at a time", lambda url, n: run_clinsim(url, n, 1)),
    "floor16": ("bare client, 16 at once", lambda url, n: run_floor(url, n, 16)),
    "agentclinic": ("AgentClinic, sleep removed", lambda url, n: run_agentclinic(url, n, False)),
    "shipped": ("AgentClinic as shipped", lambda url, n: run_agentclinic(url, n, True)),
}

# ------------------------------------------------------------------ report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per call")
    parser.add_argument(
        "--only",
        default=",".join(SYSTEMS),
        help=f"comma-separated measurements to make, of {', '.join(SYSTEMS)} (default: all)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency)
        return
    if not (AGENTCLINIC.is_file() and CASES.is_file()):
        print(f"skipped: AgentClinic's script or cases are not in {SHARED} (../shared)")
        return
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown measurements {unknown}; choose from {', '.join(SYSTEMS)}")
    results: dict[str, Result] = {}
    with server_process(args.latency) as base_url:
        print(f"{args.episodes} episodes, server latency {args.latency:g} s per call")
        for name in only:
            label, measure = SYSTEMS[name]
            result = results[label] = measure(base_url, args.episodes)
            rate = args.episodes / result.seconds
            print(
                f"  {label:<28} {result.seconds:8.1f} s  {rate:6.3f} episodes/s  "
                f"{result.seconds / args.episodes:6.2f} s per episode",
                flush=True,
            )
    report(results)


def report(results: dict[str, Result]) -> None:
    calls = {label: dict(sorted(r.calls.items())) for label, r in results.items()}
    first = next(iter(calls.values()))
    print(f"model calls per role, every run: {first}")
    differ = {label: c for label, c in calls.items() if c != first}
    if differ:
        raise SystemExit(f"the systems made different calls: {differ}")
    if "clinsim, 16 at once" not in results:
        return
    fast = results["clinsim, 16 at once"].seconds
    for label, result in results.items():
        if label.startswith("bare client"):
            print(f"  clinsim at 16 takes {fast / result.seconds:5.3f}x the {label}'s time")
        elif label != "clinsim, 16 at once":
            print(f"  clinsim at 16 vs {label}: {result.seconds / fast:5.1f}x")


if __name__ == "__main__":
    main()
