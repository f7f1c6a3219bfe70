"""Framework time per doctor turn, with instant models, against LangGraph's own floor.

    python bench/bench_turns.py [--episodes 107] [--turns 20] [--repeats 5] [--profile FILE]

Every role is played by an in-process stub that answers at once (the doctor asks questions,
each worded differently, orders one of five common tests every fourth turn and submits a
diagnosis on its last turn; the patient, the measurement reader and the judge return fixed
answers), so all the time measured is clinsim's own: the encounter graph, events, the episode
context, the simulator-fault checks, pricing and the run store. Three measurements, run in
turn in each of `--repeats` rounds in one process:

- run: `Runner.run` over the first `--episodes` agentclinic-medqa scenarios, each episode
  written to a fresh run store (what `clinsim run` does, store writes included);
- encounter: `run_encounter` alone over the same episodes (no store);
- floor: a bare LangGraph graph of the same shape (start, doctor and patient alternating,
  judge, finish; async nodes that only count turns, async routers): LangGraph's own cost of
  the two super-steps (doctor, then patient) that make a doctor turn.

Prints ms per doctor turn for each (wall time: median and best round; this process's CPU time,
all threads: median), and the ratios run / floor and encounter / floor, each the median of the
rounds' own ratios (steadier than times on a busy machine).

`--profile FILE` writes a cProfile of one extra `Runner.run` round (read it with `pstats`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.actions import Action, AskPatient, OrderTest, SubmitDiagnosis
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import DoctorView, MeasurementTurn, PatientTurn, Verdict
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.model import AnswerKey, Scenario
from clinsim.scenarios.sets import load_scenarios

TESTS = ("Complete blood count", "Chest X-ray", "Serum electrolytes", "ECG", "Urinalysis")
QUESTIONS = (
    "When did it start?",
    "Do you have a fever?",
    "Any family history of illness?",
    "What medications do you take?",
    "Do you smoke or drink?",
)


class InstantDoctor:
    async def act(self, view: DoctorView) -> Action:
        if view.turns_left <= 1:
            return SubmitDiagnosis(diagnosis="Myasthenia gravis", differential=["Botulism"])
        if view.turn % 4 == 3:
            return OrderTest(test=TESTS[view.turn // 4 % len(TESTS)])
        question = QUESTIONS[view.turn % len(QUESTIONS)]
        return AskPatient(question=f"{question} (question {view.turn} of {view.scenario_id})")


class InstantPatient:
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        return PatientTurn(answer="It started about three days ago.", facts=["history.onset"])


class InstantMeasurement:
    async def report(self, test: str) -> MeasurementTurn:
        return MeasurementTurn(matched=test, available=True, result="Within normal limits.")


class InstantJudge:
    name = "instant"

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        return Verdict(match=False, reason="instant judge", grade="wrong")


@dataclasses.dataclass(frozen=True)
class Instant:
    """Plays a role with a stub, in place of a configured component."""

    player: Any

    def build(self, scenario: Scenario, seed: int, models: object) -> Any:
        return self.player

    def describe(self) -> dict[str, Any]:
        return {"address": "instant"}


def instant_runner(turns: int, store: RunStore) -> Runner:
    config = RunConfig(sources=["agentclinic-medqa"], max_turns=turns, seed=0)
    plan = dataclasses.replace(
        resolve(config),
        doctor=Instant(InstantDoctor()),
        patient=Instant(InstantPatient()),
        measurement=Instant(InstantMeasurement()),
        judges=[Instant(InstantJudge())],
    )
    store.create("bench", plan.stored().model_dump(mode="json"))
    return Runner(plan, store, "bench")


def doctor_turns(events: list[Any]) -> int:
    return max(e.turn for e in events)


class Clock:
    """Wall time and this process's CPU time (all threads) since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_run(scenarios: list[Scenario], turns: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run")
        runner = instant_runner(turns, store)
        clock = Clock()
        records = asyncio.run(runner.run(scenarios))
        wall, cpu = clock.read()
    return wall, cpu, sum(r.turns for r in records)


def time_encounters(scenarios: list[Scenario], turns: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        runner = instant_runner(turns, RunStore(Path(tmp) / "run"))

        async def play() -> int:
            total = 0
            for i, scenario in enumerate(scenarios):
                parts = runner.parts(scenario, f"e{i}", 0)
                total += doctor_turns(await run_encounter(parts))
            return total

        clock = Clock()
        total = asyncio.run(play())
        return (*clock.read(), total)


class FloorState(TypedDict, total=False):
    turn: int


def floor_graph(turns: int) -> Any:
    async def start(state: FloorState) -> dict[str, Any]:
        return {"turn": 0}

    async def doctor(state: FloorState) -> dict[str, Any]:
        return {"turn": state["turn"] + 1}

    async def step(state: FloorState) -> dict[str, Any]:
        return {}

    async def after_doctor(state: FloorState) -> Literal["patient", "judge"]:
        return "judge" if state["turn"] >= turns else "patient"

    async def after_step(state: FloorState) -> Literal["doctor"]:
        return "doctor"

    graph = StateGraph(FloorState)
    for name, node in (("start", start), ("doctor", doctor), ("patient", step)):
        graph.add_node(name, node)
    graph.add_node("judge", step)
    graph.add_node("finish", step)
    graph.add_edge(START, "start")
    graph.add_edge("start", "doctor")
    graph.add_conditional_edges("doctor", after_doctor)
    graph.add_conditional_edges("patient", after_step)
    graph.add_edge("judge", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


def time_floor(episodes: int, turns: int) -> tuple[float, float, int]:
    graph = floor_graph(turns)

    async def play() -> None:
        for _ in range(episodes):
            await graph.ainvoke({}, {"recursion_limit": 2 * turns + 10})

    clock = Clock()
    asyncio.run(play())
    return (*clock.read(), episodes * turns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=107)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    scenarios = load_scenarios(["agentclinic-medqa"])[: args.episodes]
    time_run(scenarios[:5], args.turns)  # warm up: imports, compiled graph, caches
    wall: dict[str, list[float]] = {"run": [], "encounter": [], "floor": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    for _ in range(args.repeats):
        for name, timed in (
            ("run", lambda: time_run(scenarios, args.turns)),
            ("encounter", lambda: time_encounters(scenarios, args.turns)),
            ("floor", lambda: time_floor(len(scenarios), args.turns)),
        ):
            seconds, cpu_seconds, turns = timed()
            wall[name].append(1000 * seconds / turns)
            cpu[name].append(1000 * cpu_seconds / turns)
    print(f"{len(scenarios)} episodes x {args.turns} doctor turns, {args.repeats} rounds")
    print("  ms per doctor turn   wall: median   best    cpu: median   (wall, every round)")
    for name, values in wall.items():
        spread = ", ".join(f"{v:.3f}" for v in values)
        print(
            f"  {name:<20} {statistics.median(values):10.3f} {min(values):7.3f}"
            f" {statistics.median(cpu[name]):13.3f}   ({spread})"
        )
    for name in ("run", "encounter"):
        ratios = [a / b for a, b in zip(wall[name], wall["floor"], strict=True)]
        cpu_ratios = [a / b for a, b in zip(cpu[name], cpu["floor"], strict=True)]
        print(
            f"  {name} / floor (median of the rounds' ratios): wall"
            f" {statistics.median(ratios):5.2f}x, cpu {statistics.median(cpu_ratios):5.2f}x"
        )
    if args.profile is not None:
        profiler = cProfile.Profile()
        profiler.runcall(time_run, scenarios, args.turns)
        profiler.dump_stats(args.profile)
        print(f"profile of one run round: {args.profile}")


if __name__ == "__main__":
    main()
