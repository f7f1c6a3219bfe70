"""The LLM judge: AgentClinic's moderator. Given the correct diagnosis and the doctor's, it
answers whether they are the same disease (Yes/No plus a short reason). Replies are parsed
robustly ("Yes.", "**Yes**", "yes, because ...", "No - ...", `{"match": true}`); a reply that
is neither is asked again (bounded), then the judge fails with `MODEL_ERROR`. The wording is the
judge's prompt templates' (`system`, `question`, `retry`; `graded_system` and `graded_retry` in
graded mode).

Graded (`graded=True`, `--agent-option judge.graded=true`), it is asked instead for one of the
rules judge's grades, defined the same way (exact, synonym, more specific, less specific,
related, wrong), and the verdict is a match when the grade is a correct one; a reply with a
clear yes or no but no grade still counts, without a grade."""

from __future__ import annotations

import re
from typing import Any

from clinsim.agents.judges.grading import CORRECT
from clinsim.agents.llm.parsing import json_objects
from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatMessage, ChatModel, ChatRequest
from clinsim.agents.prompts import RolePrompts, bundled_prompts
from clinsim.environments.actions import SubmitDiagnosis
from clinsim.environments.events import GRADES, Grade
from clinsim.environments.roles import RoleFailure, Verdict
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import AnswerKey

ROLE = "judge"
_GRADE_WORD = r"(exact|synonym|more[\s_-]specific|less[\s_-]specific|related|wrong)"
_GRADE_LEAD = re.compile(rf"^(?:grade|answer|verdict)?\s*[:\-]?\s*{_GRADE_WORD}\b", re.I)
_GRADE_ANY = re.compile(rf"\b{_GRADE_WORD}\b", re.I)
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


def _grade_of(word: Any) -> Grade | None:
    folded = re.sub(r"[\s-]+", "_", str(word).strip().lower()) if word is not None else ""
    return next((g for g in GRADES if g == folded), None)


def parse_grade(text: str) -> tuple[Grade | None, bool, str]:
    """A graded reply -> (grade, match, reason). A reply without a grade but with a clear yes
    or no gives (None, match, reason); neither raises `VerdictParseError`."""
    for obj in json_objects(text):
        grade = _grade_of(obj.get("grade"))
        if grade is not None:
            reason = next((str(obj[k]) for k in _REASON_KEYS if obj.get(k)), "")
            return grade, grade in CORRECT, reason
    plain = re.sub(r"[*`#>\"']", "", text).strip()  # "_" joins grade words
    lead = _GRADE_LEAD.match(plain)
    named = {_grade_of(w) for w in _GRADE_ANY.findall(plain)}
    grade = _grade_of(lead.group(1)) if lead else (named.pop() if len(named) == 1 else None)
    if grade is not None:
        reason = _tidy_reason(plain[lead.end() :]) if lead else plain
        return grade, grade in CORRECT, reason or plain
    try:
        match, reason = parse_verdict(text)
    except VerdictParseError:
        raise VerdictParseError(f"no grade, nor a clear yes or no: {text[:200]!r}") from None
    return None, match, reason


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
        graded: bool = False,
        prompts: RolePrompts | None = None,
    ):
        self.prompts = prompts or bundled_prompts(ROLE)
        self.model = RecordedModel(model, ROLE)
        self.name = f"llm:{model.address}"
        self.graded = graded
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.retries = retries

    async def judge(self, submission: SubmitDiagnosis, key: AnswerKey) -> Verdict:
        messages = [
            ChatMessage(role="system", content=self.prompts.render(self._part("system"))),
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
                grade, match, reason = self._read(response.text)
            except VerdictParseError as exc:
                error = str(exc)
                messages = [
                    *messages,
                    ChatMessage(role="assistant", content=response.text),
                    ChatMessage(role="user", content=self.prompts.render(self._part("retry"))),
                ]
                continue
            return Verdict(match=match, reason=reason, rank=1 if match else None, grade=grade)
        detail = f"judge {self.model.address} gave no verdict after {self.retries} retries: {error}"
        raise RoleFailure(TerminationReason.MODEL_ERROR, detail)

    def _part(self, name: str) -> str:
        return f"graded_{name}" if self.graded else name

    def _read(self, text: str) -> tuple[Grade | None, bool, str]:
        if self.graded:
            return parse_grade(text)
        match, reason = parse_verdict(text)
        return None, match, reason
