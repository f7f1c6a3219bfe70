"""One way to call a model for every LLM role: stamp the call's context, time it, and return a
`ModelCalled` event holding everything needed to replay it (messages, parameters, reply, usage,
latency, retries). A failed call ends the role's turn with `RoleFailure(MODEL_ERROR)` carrying
the failed call's event, so the episode ends with a recorded reason and the run goes on."""

from __future__ import annotations

import time
from typing import Any

from clinsim.agents.models.base import (
    CallContext,
    ChatModel,
    ChatRequest,
    ChatResponse,
    ModelError,
)
from clinsim.environments.events import Event, ModelCalled
from clinsim.environments.roles import RoleFailure
from clinsim.environments.termination import TerminationReason


def call_id(episode_id: str, role: str, index: int) -> str:
    """Deterministic id of a call: the same episode makes the same ids in the same order."""
    return f"{episode_id}:{role}:{index}"


def request_params(request: ChatRequest) -> dict[str, Any]:
    """The sampling parameters of a request, as recorded (tools by name)."""
    tools = [spec.name for spec in request.tools or []]
    return {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": request.stop,
        "tools": tools,
    }


def _usage(response: ChatResponse) -> dict[str, int]:
    return {
        "prompt_tokens": response.usage.prompt_tokens,
        "completion_tokens": response.usage.completion_tokens,
    }


def _event(
    model: ChatModel, request: ChatRequest, turn: int, latency_s: float, **fields: Any
) -> ModelCalled:
    context = request.context
    return ModelCalled(
        turn=turn,
        role=context.role,
        model=model.address,
        call_id=call_id(context.episode_id, context.role, context.index),
        messages=[m.model_dump(mode="json") for m in request.messages],
        params=request_params(request),
        latency_s=latency_s,
        **fields,
    )


async def call_model(
    model: ChatModel,
    request: ChatRequest,
    role: str,
    episode_id: str,
    index: int,
    turn: int = 0,
) -> tuple[ChatResponse, ModelCalled]:
    """Call `model` once and record it.

    Sets `request.context` (episode, role, index: what replay matches calls on). Raises
    `RoleFailure(MODEL_ERROR)` with the failed call's event (its `error` set) on `ModelError`.
    """
    request = request.model_copy(
        update={"context": CallContext(episode_id=episode_id, role=role, index=index)}
    )
    started = time.perf_counter()
    try:
        response = await model.chat(request)
    except ModelError as exc:
        latency = time.perf_counter() - started
        retries = [str(r) for r in getattr(exc, "retries", [])]
        detail = f"{role} model {model.address} failed: {exc}"
        failed = _event(model, request, turn, latency, retries=retries, error=str(exc))
        raise RoleFailure(TerminationReason.MODEL_ERROR, detail, events=[failed]) from exc
    latency = time.perf_counter() - started
    event = _event(
        model,
        request,
        turn,
        latency,
        output=response.text,
        tool_calls=[call.model_dump(mode="json") for call in response.tool_calls],
        usage=_usage(response),
        retries=list(response.retries),
        thinking=response.thinking,
        finish_reason=response.finish_reason,
    )
    return response, event


class CallCounter:
    """Numbers the calls of each (episode, role) across agent instances, so that two judges,
    or the two doctors of a fork, never share a call index and replay matches each call."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], int] = {}

    def take(self, episode_id: str, role: str) -> int:
        index = self._next.get((episode_id, role), 0)
        self._next[(episode_id, role)] = index + 1
        return index


class RecordedModel:
    """A model bound to one role of one episode: numbers its calls (0, 1, ...; shared with
    other agents of the same role through `counter`) and appends each call's event to the
    caller's event list. On failure the `RoleFailure` carries all events of that list so far
    plus the failed call."""

    def __init__(
        self, model: ChatModel, role: str, episode_id: str, counter: CallCounter | None = None
    ):
        self.model = model
        self.role = role
        self.episode_id = episode_id
        self.counter = counter or CallCounter()
        self.calls = 0

    @property
    def address(self) -> str:
        return self.model.address

    async def chat(self, request: ChatRequest, events: list[Event], turn: int = 0) -> ChatResponse:
        index = self.counter.take(self.episode_id, self.role)
        self.calls += 1
        try:
            response, called = await call_model(
                self.model, request, self.role, self.episode_id, index, turn
            )
        except RoleFailure as failure:
            raise RoleFailure(failure.reason, failure.detail, [*events, *failure.events]) from None
        events.append(called)
        return response
