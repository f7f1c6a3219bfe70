"""The LLM patient: plays the scenario's patient facts in AgentClinic's manner, and never names
the diagnosis. A reply that does is withheld (`PatientLeakBlocked`) and regenerated with a
stricter instruction and another seed; if every try leaks, the patient says "I'm not sure."

The answer key is used only for that check: it is never put in a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable

from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest
from clinsim.environments.context import record
from clinsim.environments.events import PatientLeakBlocked
from clinsim.environments.roles import PatientTurn
from clinsim.scenarios.model import Facts, PatientFacts
from clinsim.scenarios.text import NameMatcher

ROLE = "patient"
NEUTRAL_ANSWER = "I'm not sure."
_STRICT = (
    "Important: do not name any disease, condition or diagnosis, even one you suspect. "
    "Describe only what you feel and what has happened to you."
)


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


def patient_system_prompt(facts: PatientFacts, bias: str | None) -> str:
    bias_text = f"\n\n{bias}" if bias else ""
    return (
        "You are a patient in a clinic who only responds in the form of dialogue. A doctor is "
        "examining you and will ask you questions in order to understand your disease. Answer "
        "in 1-3 sentences, in your own everyday words. Only say what a patient would know "
        "about themselves; do not reveal test results you have not been told, and never name "
        f"a diagnosis.{bias_text}\n\nBelow is all of your information:\n{patient_profile(facts)}"
        "\n\nRemember: you must not reveal your disease explicitly; convey only the symptoms "
        "and history you are asked about."
    )


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
    ):
        self.model = RecordedModel(model, ROLE)
        self.system = patient_system_prompt(facts, bias)
        self.leaks = leaks
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.leak_retries = leak_retries

    def _request(self, question: str, history: list[tuple[str, str]], attempt: int) -> ChatRequest:
        system = self.system if attempt == 0 else f"{self.system}\n\n{_STRICT}"
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
