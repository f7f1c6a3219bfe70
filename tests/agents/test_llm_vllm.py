"""The LLM doctor, patient, measurement reader and judge against a real vLLM server on loopback
(tiny random Gemma 3: replies are gibberish, so these tests check that episodes complete with
a recorded reason and that every call is recorded, not what the model says)."""

from __future__ import annotations

from typing import Any

import pytest
from episodes import in_episode
from pydantic import BaseModel, JsonValue

from clinsim.agents.factories import AgentRequest
from clinsim.agents.llm.factories import llm_doctor, llm_judge, llm_measurement, llm_patient
from clinsim.agents.models.registry import BACKENDS, ModelPool
from clinsim.agents.models.vllm_local import VLLMServer
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.encounter import EncounterParts, EncounterSettings
from clinsim.environments.events import EpisodeEnded, ModelCalled
from clinsim.environments.factories import Role
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import RoleFailure
from clinsim.environments.termination import TerminationReason
from clinsim.environments.tool_spec import ToolResult, ToolSpec
from clinsim.plugins import Factory
from clinsim.scenarios.model import AnswerKey, Case, PatientFacts, Provenance, Scenario

pytestmark = pytest.mark.vllm

SCENARIO = Scenario(
    id="vllm/1",
    case=Case(
        objective="Evaluate the patient with a cough.",
        patient=PatientFacts(demographics="40-year-old man", symptoms="cough for two weeks"),
        tests={"Chest_X-Ray": "clear lungs"},
    ),
    answer=AnswerKey(diagnosis="Postviral cough"),
    provenance=Provenance(source="test"),
)


class NoTools:
    def specs(self) -> list[ToolSpec]:
        return []

    async def call(self, name: str, arguments: dict[str, JsonValue]) -> ToolResult:
        return ToolResult(text="", error="no tools here")


def make(role: Role, pool: ModelPool, base_url: str, **settings: Any) -> Any:
    factories: dict[Role, Factory[AgentRequest, Any]] = {
        "doctor": llm_doctor,
        "patient": llm_patient,
        "measurement": llm_measurement,
        "judge": llm_judge,
    }
    made = factories[role]
    backend = load_backend_config(base_url)
    request = AgentRequest(role, "openai/tiny", SCENARIO, 1, pool, backend)
    return made.build(request, made.configure({"max_tokens": 24, **settings}))


def load_backend_config(base_url: str) -> BaseModel:
    return BACKENDS.get("openai").configure({"base_urls": [base_url]})


@pytest.mark.parametrize("protocol", ["agentclinic", "tools", "json"])
async def test_an_encounter_on_vllm_completes_with_every_call_recorded(
    vllm_server: VLLMServer, protocol: str
) -> None:
    pool, url = ModelPool(), vllm_server.base_url
    parts = EncounterParts(
        scenario_id=SCENARIO.id,
        episode_id="ep-v",
        case=SCENARIO.case,
        answer=SCENARIO.answer,
        doctor=make("doctor", pool, url, protocol=protocol),
        patient=make("patient", pool, url),
        measurement=make("measurement", pool, url),
        judges=[make("judge", pool, url)],
        tools=NoTools(),
        settings=EncounterSettings(max_turns=3),
    )
    events = await run_encounter(parts)
    ended = events[-1]
    assert isinstance(ended, EpisodeEnded)
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert calls and calls[0].role == "doctor" and calls[0].model == "openai/tiny"
    if ended.reason is TerminationReason.MODEL_ERROR:  # e.g. repairs outgrew the 1024 context
        failed = calls.pop()
        assert failed.error and failed.error in ended.detail
    for call in calls:
        assert call.error is None
        assert call.usage["prompt_tokens"] > 0
        assert call.output or call.tool_calls
    assert len({c.call_id for c in calls}) == len(calls)
    if protocol == "agentclinic":  # any text is a question: the patient is asked
        assert "patient" in {c.role for c in calls}
    if protocol == "tools":
        assert calls[0].params["tools"][:3] == ["ask_patient", "order_test", "submit_diagnosis"]


async def test_the_judge_on_vllm_gives_a_verdict_or_a_recorded_failure(
    vllm_server: VLLMServer,
) -> None:
    pool, url = ModelPool(), vllm_server.base_url
    judge = make("judge", pool, url, retries=1)
    submission, key = SubmitDiagnosis(diagnosis="Asthma"), AnswerKey(diagnosis="Asthma")
    with in_episode("ep-v") as events:
        try:
            await judge.judge(submission, key)
        except RoleFailure as failure:
            assert failure.reason is TerminationReason.MODEL_ERROR
            assert len(events) == 2
    assert all(isinstance(e, ModelCalled) and e.role == "judge" and e.output for e in events)
