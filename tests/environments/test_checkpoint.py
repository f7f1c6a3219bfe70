"""The checkpointer of encounters that pause for a person registers every class of the
encounter state, so a paused state comes back whole and without LangGraph's warnings, whether
or not strict deserialisation is on."""

from __future__ import annotations

import logging
from typing import Any, get_args

import pytest

from clinsim.environments.actions import Action, CallTool, SubmitDiagnosis
from clinsim.environments.checkpoint import encounter_checkpointer, state_types
from clinsim.environments.encounter import Outcome
from clinsim.environments.events import (
    ConceptRef,
    DiagnosisJudged,
    EpisodeEnded,
    EpisodeStarted,
    Event,
    MatchEvidence,
    ModelCalled,
)
from clinsim.environments.roles import Exchange
from clinsim.environments.termination import TerminationReason


def union_members(annotated: Any) -> set[tuple[str, str]]:
    union = get_args(annotated)[0]  # Annotated[A | B | ..., Field(discriminator=...)]
    return {(member.__module__, member.__qualname__) for member in get_args(union)}


def test_every_event_and_action_class_is_registered() -> None:
    registered = state_types()
    assert len(union_members(Event)) > 15 and union_members(Event) <= registered
    assert len(union_members(Action)) == 4 and union_members(Action) <= registered
    for cls in (Exchange, TerminationReason, MatchEvidence, ConceptRef):
        assert (cls.__module__, cls.__qualname__) in registered


def test_the_tests_run_with_strict_deserialisation() -> None:
    from langgraph.checkpoint.serde import _msgpack

    assert _msgpack.STRICT_MSGPACK_ENABLED


def test_a_paused_state_comes_back_whole_and_silently(caplog: pytest.LogCaptureFixture) -> None:
    concept = ConceptRef(code="J18.9", title="Pneumonia, unspecified organism")
    evidence = MatchEvidence(
        answer="Pneumonia", reference="Pneumonia", grade="exact", how="same", answer_concept=concept
    )
    state: dict[str, Any] = {
        "events": [
            EpisodeStarted(scenario_id="demo/0001", seed=3, max_turns=20),
            ModelCalled(role="doctor", model="openai/x", call_id="e:doctor:0", messages=[]),
            DiagnosisJudged(judge="rules", match=True, reason="same", evidence=[evidence]),
            EpisodeEnded(reason=TerminationReason.DIAGNOSED),
        ],
        "history": [Exchange(CallTool(tool="query_ehr", arguments={"sql": "SELECT 1"}), "1")],
        "pending": SubmitDiagnosis(diagnosis="Pneumonia", differential=["Bronchitis"]),
        "outcome": Outcome(reason=TerminationReason.DIAGNOSED, detail=""),
        "turn": 3,
        "cost": 12.5,
    }
    serde = encounter_checkpointer().serde
    with caplog.at_level(logging.DEBUG, logger="langgraph"):
        back = serde.loads_typed(serde.dumps_typed(state))
    assert not [r for r in caplog.records if r.name.startswith("langgraph")]
    assert back["events"] == state["events"]
    assert back["pending"] == state["pending"] and back["outcome"] == state["outcome"]
    (exchange,) = back["history"]
    assert isinstance(exchange, Exchange) and exchange.action == state["history"][0].action
