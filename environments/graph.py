r"""The encounter as a LangGraph graph, and running one episode through it.

    START -> start -> doctor -> (patient | measurement | tool) -> doctor ... -> judge -> finish
                             \-> finish (turn limit, doctor failure)

One compiled graph serves every episode: the episode's `EncounterParts` travel as the run's
context. Roles played by a person pause the graph (`interrupt`); `run_encounter` resumes it
with their replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from clinsim.environments.checkpoint import encounter_checkpointer
from clinsim.environments.encounter import Encounter, EncounterParts, EncounterState
from clinsim.environments.events import Event

NodeName = Literal["start", "doctor", "patient", "measurement", "tool", "judge", "finish"]


def _node(name: NodeName) -> Callable[[EncounterState, Runtime[EncounterParts]], Awaitable[Any]]:
    async def run(state: EncounterState, runtime: Runtime[EncounterParts]) -> Any:
        return await getattr(Encounter(runtime.context), name)(state)

    run.__name__ = name
    return run


def build_graph(checkpointer: Any = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The encounter graph. Each episode's parts travel as the run's context, so one compiled
    graph serves every episode."""
    graph = StateGraph(EncounterState, context_schema=EncounterParts)
    for name in ("start", "doctor", "patient", "measurement", "tool", "judge", "finish"):
        graph.add_node(name, _node(name))  # type: ignore[call-overload]
    graph.add_edge(START, "start")
    graph.add_edge("start", "doctor")
    graph.add_conditional_edges("doctor", Encounter.after_doctor)
    for node in ("patient", "measurement", "tool"):
        graph.add_conditional_edges(node, Encounter.after_step)
    graph.add_edge("judge", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


_GRAPH: CompiledStateGraph[Any, Any, Any, Any] | None = None


def encounter_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    global _GRAPH
    if _GRAPH is None:
        _GRAPH = build_graph()
    return _GRAPH


Responder = Callable[[dict[str, Any]], Awaitable[str]]
"""Answers a role's interrupt (a person at the terminal): gets the prompt, returns the reply."""


async def _drive(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    graph_input: Any,
    config: Any,
    parts: EncounterParts,
    on_event: Callable[[Event], None] | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    stream = graph.astream(
        graph_input, config=config, context=parts, stream_mode=["updates", "values"]
    )
    async for mode, chunk in stream:
        data: dict[str, Any] = chunk  # type: ignore[assignment]
        if mode == "values":
            values = data
        elif on_event is not None:
            for node, update in data.items():
                if node != "__interrupt__" and isinstance(update, dict):
                    for event in update.get("events", []):
                        on_event(event)
    return values


async def run_encounter(
    parts: EncounterParts,
    on_event: Callable[[Event], None] | None = None,
    respond: Responder | None = None,
) -> list[Event]:
    """Run one episode to its end and return its events.

    `on_event` sees events as they happen. `respond` answers interrupts raised by roles played
    by a person; with it the graph runs with a checkpointer so it can pause and resume.
    """
    encounter = Encounter(parts)
    limit = encounter.recursion_limit()
    if respond is None:
        values = await _drive(encounter_graph(), {}, {"recursion_limit": limit}, parts, on_event)
    else:
        graph = build_graph(checkpointer=encounter_checkpointer())
        config: Any = {"recursion_limit": limit, "configurable": {"thread_id": parts.episode_id}}
        graph_input: Any = {}
        while True:
            values = await _drive(graph, graph_input, config, parts, on_event)
            snapshot = await graph.aget_state(config)
            pending = [i for task in snapshot.tasks for i in task.interrupts]
            if not pending:
                break
            graph_input = Command(resume=await respond(pending[0].value))
    events: list[Event] = values["events"]
    return events
