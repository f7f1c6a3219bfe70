"""One way to call a model for every LLM role: number the call within the episode, time it, and
record a `ModelCalled` event holding everything needed to replay it (messages, parameters,
reply, usage, latency, retries) in the episode context. A failed call is recorded too, with its
error, and ends the role's turn with `RoleFailure(MODEL_ERROR)`, so the episode ends with a
recorded reason and the run goes on."""

from __future__ import annotations

import time
from typing import Any

from clinsim.agents.models.base import ChatModel, ChatRequest, ChatResponse, ModelError
from clinsim.environments.context import ModelCall, calling, current_episode
from clinsim.environments.events import ModelCalled
from clinsim.environments.roles import RoleFailure
from clinsim.environments.termination import TerminationReason


def request_params(request: ChatRequest) -> dict[str, Any]:
    """The sampling parameters of a request, as recorded (tools by name)."""
    return {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": request.stop,
        "tools": [spec.name for spec in request.tools or []],
    }


def _event(
    model: ChatModel, request: ChatRequest, call: ModelCall, latency_s: float, **fields: Any
) -> ModelCalled:
    return ModelCalled(
        role=call.role,
        model=model.address,
        call_id=call.call_id,
        messages=[m.model_dump(mode="json") for m in request.messages],
        params=request_params(request),
        latency_s=latency_s,
        **fields,
    )


async def call_model(model: ChatModel, request: ChatRequest, role: str) -> ChatResponse:
    """Call `model` once as `role` of the current episode and record the call.

    Raises `RoleFailure(MODEL_ERROR)` on `ModelError`, after recording the failed call (its
    `error` set)."""
    episode = current_episode()
    call = episode.next_call(role)
    started = time.perf_counter()
    try:
        with calling(call):
            response = await model.chat(request)
    except ModelError as exc:
        latency = time.perf_counter() - started
        episode.record(_event(model, request, call, latency, retries=exc.retries, error=str(exc)))
        detail = f"{role} model {model.address} failed: {exc}"
        raise RoleFailure(TerminationReason.MODEL_ERROR, detail) from exc
    latency = time.perf_counter() - started
    usage = response.usage
    event = _event(
        model,
        request,
        call,
        latency,
        output=response.text,
        tool_calls=[tool_call.model_dump(mode="json") for tool_call in response.tool_calls],
        usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        retries=list(response.retries),
        thinking=response.thinking,
        finish_reason=response.finish_reason,
    )
    episode.record(event)
    return response


class RecordedModel:
    """A model bound to one role: every call is numbered and recorded in the current episode."""

    def __init__(self, model: ChatModel, role: str):
        self.model = model
        self.role = role

    @property
    def address(self) -> str:
        return self.model.address

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await call_model(self.model, request, self.role)
