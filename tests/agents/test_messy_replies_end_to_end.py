"""Whole runs whose doctor model, served by the loopback OpenAI-compatible server, answers the
way chat models do (fences, trailing commas, Python literals, thinking spans, Gemma tool_code,
markdown around AgentClinic's markers, a made-up tool): every episode orders the tests, asks the
questions and submits the diagnosis its replies meant, and no repair prompt is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clinsim.agents.models.base import ModelSettings
from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.registry import AgentOptions
from clinsim.environments.events import (
    DiagnosisSubmitted,
    DoctorReplyRejected,
    DoctorReplyRepaired,
    EpisodeEnded,
    ModelCalled,
    QuestionAsked,
    ToolReturned,
)
from clinsim.environments.events import (
    TestOrdered as OrderedEvent,
)
from clinsim.runner import RunConfig, Runner
from clinsim.scenarios.sets import load_scenarios
from clinsim.store import RunStore

DIAGNOSIS = "Community-acquired pneumonia"
QUESTION = "How long have you been unwell?"

SCRIPTS: dict[str, list[str]] = {
    "json": [
        "<think>Fever and a productive cough: a chest film first.</think>\n"
        '```json\n{"action": "order_test", "test_name": "Chest X-ray",}\n```',
        f"Let me ask about the course.\n{{'action': 'ask_patient', 'question': '{QUESTION}'}}",
        '{"action": "consult_cardiology", "arguments": {"reason": "chest pain"}}',
        '```json\n{"action": "submit_diagnosis", "diagnosis": "Community-acquired pneumonia", '
        '"differential": ["Acute bronchitis",], "confident": True}\n```\n'
        "The consolidation supports it.",
    ],
    "tools": [
        '```tool_code\norder_test(test="Chest X-ray")\n```',
        f'[ask_patient(question="{QUESTION}")]',
        'I need a specialist view.\n```tool_code\nconsult_cardiology(reason="chest pain")\n```',
        "<unused94>thought\nConsolidation on the film.<unused95>"
        '{"name": "submit_diagnosis", "parameters": {"diagnosis": "Community-acquired pneumonia", '
        '"differential": ["Acute bronchitis"]}}',
    ],
    "agentclinic": [
        "I'd like to see the lungs. **REQUEST TEST:** Chest_X-Ray",
        f"Doctor: {QUESTION}",
        "<think>Check the white cells.</think>\nREQUEST TEST: [Complete Blood Count].",
        f"Thank you. **DIAGNOSIS READY:** {DIAGNOSIS}. The fever and consolidation fit.",
    ],
}
TESTS = {
    "json": ["Chest X-ray"],
    "tools": ["Chest X-ray"],
    "agentclinic": ["Chest_X-Ray", "Complete Blood Count"],
}
THINKING = {  # (turn, thinking kept in the call's record)
    "json": (0, "Fever and a productive cough: a chest film first."),
    "tools": (3, "thought\nConsolidation on the film."),
    "agentclinic": (2, "Check the white cells."),
}
DIFFERENTIAL = {"json": ["Acute bronchitis"], "tools": ["Acute bronchitis"], "agentclinic": []}


def scripted(replies: list[str]) -> Any:
    """A responder that answers the doctor's n-th turn with the n-th reply (n = the number of
    assistant messages in the request: a repair prompt would shift it)."""

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        turn = sum(1 for m in body["messages"] if m.get("role") == "assistant")
        return {"content": replies[turn]}

    return respond


async def run_protocol(protocol: str, run_dir: Path) -> tuple[RunStore, list[Any]]:
    async with LoopbackServer(responder=scripted(SCRIPTS[protocol])) as server:
        config = RunConfig(
            sources=["demo"],
            doctor="openai/doctor",
            max_turns=6,
            options=AgentOptions(doctor_protocol=protocol),
            models=ModelSettings(base_urls=[server.base_url], max_retries=0),
        )
        scenarios = load_scenarios(config.sources)[:2]
        store = RunStore(run_dir)
        store.create("run", config.model_dump(mode="json"))
        records = await Runner(config, store, "run").run(scenarios)
        requests = list(server.requests)
    return store, [*records, requests]


@pytest.mark.parametrize("protocol", ["json", "tools", "agentclinic"])
async def test_messy_replies_end_in_the_actions_they_meant(protocol: str, tmp_path: Path) -> None:
    store, results = await run_protocol(protocol, tmp_path / "run")
    *records, requests = results
    assert len(records) == 2
    assert len(requests) == 2 * len(SCRIPTS[protocol])  # one call per turn: no repair prompt
    assert not any("could not be used" in str(r["messages"][-1]) for r in requests)
    for record in records:
        events = store.events(record.episode_id)
        assert not [e for e in events if isinstance(e, DoctorReplyRejected)]
        calls = [e for e in events if isinstance(e, ModelCalled) and e.role == "doctor"]
        assert len(calls) == len(SCRIPTS[protocol])
        turn, thinking = THINKING[protocol]
        assert calls[turn].thinking == thinking and "<" not in calls[turn].output
        assert [e.test for e in events if isinstance(e, OrderedEvent)] == TESTS[protocol]
        assert [e.question for e in events if isinstance(e, QuestionAsked)] == [QUESTION]
        [submitted] = [e for e in events if isinstance(e, DiagnosisSubmitted)]
        assert (submitted.diagnosis, submitted.differential) == (DIAGNOSIS, DIFFERENTIAL[protocol])
        assert [e.reason.value for e in events if isinstance(e, EpisodeEnded)] == ["diagnosed"]
        repaired = [
            note for e in events if isinstance(e, DoctorReplyRepaired) for note in e.repairs
        ]
        assert repaired, "the lenient reads are recorded"
        if protocol != "agentclinic":
            [tool_error] = [e for e in events if isinstance(e, ToolReturned)]
            assert tool_error.error and "no such tool 'consult_cardiology'" in tool_error.error
            assert "offered: ask_patient, order_test, submit_diagnosis" in tool_error.error
    if protocol != "agentclinic":  # the model saw the tool error in its next turn
        assert "no such tool 'consult_cardiology'" in str(requests[3]["messages"])
