"""The LLM judge: AgentClinic's moderator. Given the correct diagnosis and the doctor's, it
answers whether they are the same disease (Yes/No plus a short reason). Replies are parsed
robustly ("Yes.", "**Yes**", "yes, because ...", "No - ...", `{"match": true}`); a reply that
is neither is asked again (bounded), then the judge fails with `MODEL_ERROR`. The wording is the
judge's prompt templates' (`system`, `question`, `retry`)."""

from __future__ import annotations

import re
from typing import Any

from clinsim.agents.llm.parsing import json_objects
from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest
from clinsim.agents.prompts import RolePrompts, bundled_prompts
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.roles import RoleFailure, Verdict
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import AnswerKey

ROLE = "judge"
_MATCH_KEYS = ("match", "same", "answer", "verdict", "correct")
_REASON_KEYS = ("reason", "explanation", "rationale")
_WORD = re.compile(r"\b(yes|no)\b", re.I)
_LEAD = re.compile(
    r"^(?:(?:final\s+)?answer|verdict|judge?ment)?\s*[:\-]?\s*(yes|no)\b"
    r"(?!\s*(?:and|or|/)\s*(?:yes|no)\b)",  # not "yes and no"
    re.I,
)


class VerdictParseError(ValueError):
    pass


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = value.strip().lower().strip(".!") if isinstance(value, str) else ""
    if word in ("yes", "true", "no", "false"):
        return word in ("yes", "true")
    return None


def _from_json(text: str) -> tuple[bool, str] | None:
    for obj in json_objects(text):
        for key in _MATCH_KEYS:
            match = _as_bool(obj.get(key))
            if match is not None:
                reason = next((str(obj[k]) for k in _REASON_KEYS if obj.get(k)), "")
                return match, reason
    return None


def _tidy_reason(rest: str) -> str:
    return rest.strip().lstrip(".,;:!-–— ").strip()


def parse_verdict(text: str) -> tuple[bool, str]:
    """A judge reply -> (match, reason). Raises `VerdictParseError` when neither yes nor no."""
    from_json = _from_json(text)
    if from_json is not None:
        return from_json
    plain = re.sub(r"[*_`#>\"']", "", text).strip()
    lead = _LEAD.match(plain)
    if lead is not None:
        reason = _tidy_reason(plain[lead.end() :])
        return lead.group(1).lower() == "yes", reason or plain
    words = {w.lower() for w in _WORD.findall(plain)}
    if len(words) == 1:
        return words == {"yes"}, plain
    raise VerdictParseError(f"neither a clear yes nor no: {text[:200]!r}")


def judge_prompt(
    submission: SubmitDiagnosis, key: AnswerKey, prompts: RolePrompts | None = None
) -> str:
    return (prompts or bundled_prompts(ROLE)).render(
        "question",
        reference=key.diagnosis,
        synonyms=list(key.synonyms),
        diagnosis=submission.diagnosis,
        differential=list(submission.differential),
    )


class LLMJudge:
    """Implements `clinsim.environments.roles.Judge`; judges the submitted (first) diagnosis,
    so `rank` is 1 on a match."""

    def __init__(
        self,
        model: ChatModel,
        temperature: float = 0.0,
        max_tokens: int = 128,
        seed: int | None = None,
        retries: int = 2,
        prompts: RolePrompts | None = None,
    ):
        self.prompts = prompts or bundled_prompts(ROLE)
        self.model = RecordedModel(model, ROLE)
        self.name = f"llm:{model.address}"
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.retries = retries

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        messages = [
            ChatMessage(role="system", content=self.prompts.render("system")),
            ChatMessage(role="user", content=judge_prompt(submission, key, self.prompts)),
        ]
        error = ""
        for _attempt in range(self.retries + 1):
            request = ChatRequest(
                messages=messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=self.seed,
            )
            response = await self.model.chat(request)
            try:
                match, reason = parse_verdict(response.text)
            except VerdictParseError as exc:
                error = str(exc)
                messages = [
                    *messages,
                    ChatMessage(role="assistant", content=response.text),
                    ChatMessage(role="user", content=self.prompts.render("retry")),
                ]
                continue
            return Verdict(match=match, reason=reason, rank=1 if match else None)
        detail = f"judge {self.model.address} gave no verdict after {self.retries} retries: {error}"
        raise RoleFailure(TerminationReason.MODEL_ERROR, detail)
