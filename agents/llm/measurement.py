"""The LLM measurement reader, in AgentClinic's sense: given the case's examination findings
and test results, it reports the requested test's result, or "NORMAL READINGS" when the case
does not have it. It sees the case only, never the answer key. The wording is the measurement
reader's prompt templates' (`system`, `request`)."""

from __future__ import annotations

import re

from clinsim.agents.llm.patient import render_facts
from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest
from clinsim.agents.prompts import RolePrompts, bundled_prompts
from clinsim.environments.roles import MeasurementTurn
from clinsim.scenarios.model import Case

ROLE = "measurement"
NORMAL_READINGS = "NORMAL READINGS"
_RESULTS_PREFIX = re.compile(r"^[\s*_`#>]*results?[\s*_`]*:[\s*_`]*", re.I)


def measurement_system_prompt(case: Case, prompts: RolePrompts | None = None) -> str:
    prompts = prompts or bundled_prompts(ROLE)
    information = render_facts(
        {"Physical examination findings": case.exam, "Test results": case.tests}
    )
    return prompts.render("system", information=information, exam=case.exam, tests=case.tests)


def read_report(text: str) -> tuple[bool, str]:
    """A reply -> (available, result text without the RESULTS: prefix)."""
    result = _RESULTS_PREFIX.sub("", text.strip()).strip()
    if not result or result.upper().strip(" .") == NORMAL_READINGS:
        return False, NORMAL_READINGS
    return True, result


class LLMMeasurement:
    """Implements `clinsim.environments.roles.Measurement` with a chat model."""

    def __init__(
        self,
        model: ChatModel,
        case: Case,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = None,
        prompts: RolePrompts | None = None,
    ):
        self.prompts = prompts or bundled_prompts(ROLE)
        self.model = RecordedModel(model, ROLE)
        self.system = measurement_system_prompt(case, self.prompts)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed

    async def report(self, test: str) -> MeasurementTurn:
        request = ChatRequest(
            messages=[
                ChatMessage(role="system", content=self.system),
                ChatMessage(role="user", content=self.prompts.render("request", test=test)),
            ],
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        response = await self.model.chat(request)
        available, result = read_report(response.text)
        return MeasurementTurn(matched=None, available=available, result=result)
