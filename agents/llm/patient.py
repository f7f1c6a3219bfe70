"""The LLM patient: plays the scenario's patient facts in AgentClinic's manner, and never names
the diagnosis. A reply that does is withheld (`PatientLeakBlocked`) and regenerated with a
stricter instruction and another seed; if every try leaks, the patient says "I'm not sure."

The answer key is used only for that check: it is never put in a prompt. The wording is the
patient's prompt templates' (`system`, and `strict` for a regenerated reply).
"""

from __future__ import annotations

from collections.abc import Iterable

from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest
from clinsim.agents.prompts import RolePrompts, bundled_prompts
from clinsim.environments.context import record
from clinsim.environments.events import PatientLeakBlocked
from clinsim.environments.roles import PatientTurn
from clinsim.scenarios.model import Facts, PatientFacts
from clinsim.scenarios.text import NameMatcher

ROLE = "patient"
NEUTRAL_ANSWER = "I'm not sure."


def _flat(items: list[Facts]) -> bool:
    return all(not isinstance(item, dict | list) for item in items)


def render_facts(value: Facts, indent: str = "") -> str:
    """Free-form facts as compact indented text (keys' underscores become spaces)."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            label = str(key).replace("_", " ")
            label = label[:1].upper() + label[1:]
            nested = isinstance(item, dict) and bool(item)
            if nested or (isinstance(item, list) and not _flat(item)):
                lines.append(f"{indent}{label}:\n{render_facts(item, indent + '  ')}")
            else:
                lines.append(f"{indent}{label}: {render_facts(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        if _flat(value):
            return indent + "; ".join(render_facts(item) for item in value)
        return "\n".join(render_facts(item, indent) for item in value)
    return indent + ("" if value is None else str(value))


def patient_profile(facts: PatientFacts) -> str:
    sections = {k: v for k, v in facts.model_dump(exclude={"other"}).items() if v not in (None, "")}
    sections.update(facts.other)
    return render_facts(sections)


def patient_system_prompt(
    facts: PatientFacts, bias: str | None, prompts: RolePrompts | None = None
) -> str:
    prompts = prompts or bundled_prompts(ROLE)
    data = {k: v for k, v in facts.model_dump(exclude={"other"}).items() if v not in (None, "")}
    data.update(facts.other)
    return prompts.render("system", profile=patient_profile(facts), facts=data, bias=bias)


def leak_matcher(diagnosis: str, synonyms: Iterable[str] = ()) -> NameMatcher:
    """What counts as naming the diagnosis in a reply: each name, its parenthesised alias, and
    the name without leading qualifiers ("acute", "chronic", ...), as whole phrases."""
    return NameMatcher([diagnosis, *synonyms], strip_qualifiers=True)


class LLMPatient:
    """Implements `clinsim.environments.roles.Patient` with a chat model."""

    def __init__(
        self,
        model: ChatModel,
        facts: PatientFacts,
        leaks: NameMatcher,
        bias: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = None,
        leak_retries: int = 2,
        prompts: RolePrompts | None = None,
    ):
        prompts = prompts or bundled_prompts(ROLE)
        self.model = RecordedModel(model, ROLE)
        self.system = patient_system_prompt(facts, bias, prompts)
        self.strict = prompts.render("strict")
        self.leaks = leaks
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.leak_retries = leak_retries

    def _request(self, question: str, history: list[tuple[str, str]], attempt: int) -> ChatRequest:
        system = self.system if attempt == 0 else f"{self.system}\n\n{self.strict}"
        messages = [ChatMessage(role="system", content=system)]
        for asked, answered in history:
            messages.append(ChatMessage(role="user", content=asked))
            messages.append(ChatMessage(role="assistant", content=answered))
        messages.append(ChatMessage(role="user", content=question))
        seed = None if self.seed is None else self.seed + attempt
        temperature = self.temperature if attempt == 0 else max(self.temperature, 0.7)
        return ChatRequest(
            messages=messages, temperature=temperature, max_tokens=self.max_tokens, seed=seed
        )

    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        for attempt in range(self.leak_retries + 1):
            request = self._request(question, history, attempt)
            response = await self.model.chat(request)
            reply = response.text.strip()
            if not self.leaks.found_in(reply):
                return PatientTurn(answer=reply or NEUTRAL_ANSWER)
            record(PatientLeakBlocked(reply=reply))
        return PatientTurn(answer=NEUTRAL_ANSWER)
