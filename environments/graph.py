r"""The encounter as a LangGraph graph, and running one episode through it.

    START -> start -> doctor -> (patient | measurement | tool) -> doctor ... -> judge -> finish
                             \-> finish (turn limit, doctor failure)

One compiled graph serves every episode: the episode's `EncounterParts` travel as the run's
context. A node with a choice of successor returns its update together with where to go next
(`Command(update=..., goto=...)`), chosen by the encounter's `Literal`-typed router for that
node; the router's return type declares the node's possible successors, which is what the
graph's drawing shows. (Routing inside the step instead of in conditional edges saves LangGraph
a traced router call per step.) Roles played by a person pause the graph (`interrupt`);
`run_encounter` resumes it with their replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, get_args, get_type_hints

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from clinsim.environments.encounter import Encounter, EncounterParts, EncounterState
from clinsim.environments.events import Event

NodeName = Literal["start", "doctor", "patient", "measurement", "tool", "judge", "finish"]


Router = Callable[[Mapping[str, Any]], str]
ROUTERS: dict[NodeName, Router] = {
    "doctor": Encounter.after_doctor,
    "patient": Encounter.after_step,
    "measurement": Encounter.after_step,
    "tool": Encounter.after_step,
}


def _node(name: NodeName) -> Callable[[EncounterState, Runtime[EncounterParts]], Awaitable[Any]]:
    route = ROUTERS.get(name)

    async def run(state: EncounterState, runtime: Runtime[EncounterParts]) -> Any:
        update: dict[str, Any] = await getattr(runtime.context.encounter, name)(state)
        if route is None:
            return update
        return Command(update=update, goto=route({**state, **update}))

    run.__name__ = name
    return run


def successors(router: Router) -> tuple[str, ...]:
    """The nodes a router can name: its `Literal` return type."""
    return get_args(get_type_hints(router)["return"])


def build_graph(checkpointer: Any = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The encounter graph. Each episode's parts travel as the run's context, so one compiled
    graph serves every episode."""
    graph = StateGraph(EncounterState, context_schema=EncounterParts)
    for name in ("start", "doctor", "patient", "measurement", "tool", "judge", "finish"):
        route = ROUTERS.get(name)
        ends = successors(route) if route is not None else None
        graph.add_node(name, _node(name), destinations=ends)  # type: ignore[call-overload]
    graph.add_edge(START, "start")
    graph.add_edge("start", "doctor")
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
    events: list[Event],
    on_event: Callable[[Event], None] | None,
) -> None:
    """Run the graph until it ends or pauses, adding each step's events to `events`.

    Only the steps' updates are streamed: every event reaches the state through a step's
    update, already numbered, so their concatenation is the state's event list."""
    stream = graph.astream(graph_input, config=config, context=parts, stream_mode="updates")
    async for chunk in stream:
        for node, update in chunk.items():
            if node == "__interrupt__" or not isinstance(update, dict):
                continue
            new: list[Event] = update.get("events") or []
            events.extend(new)
            if on_event is not None:
                for event in new:
                    on_event(event)


async def run_encounter(
    parts: EncounterParts,
    on_event: Callable[[Event], None] | None = None,
    respond: Responder | None = None,
) -> list[Event]:
    """Run one episode to its end and return its events.

    `on_event` sees events as they happen. `respond` answers interrupts raised by roles played
    by a person; with it the graph runs with a checkpointer so it can pause and resume.
    """
    limit = parts.encounter.recursion_limit()
    events: list[Event] = []
    if respond is None:
        config: Any = {"recursion_limit": limit}
        await _drive(encounter_graph(), {}, config, parts, events, on_event)
        return events
    from clinsim.environments.checkpoint import encounter_checkpointer  # only a person pauses

    graph = build_graph(checkpointer=encounter_checkpointer())
    config = {"recursion_limit": limit, "configurable": {"thread_id": parts.episode_id}}
    graph_input: Any = {}
    while True:
        await _drive(graph, graph_input, config, parts, events, on_event)
        snapshot = await graph.aget_state(config)
        pending = [i for task in snapshot.tasks for i in task.interrupts]
        if not pending:
            return events
        graph_input = Command(resume=await respond(pending[0].value))
