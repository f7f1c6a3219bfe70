"""The chat-model protocol every backend implements, and its message types.

A backend turns a `ChatRequest` (messages with roles, optional images, optional tool specs that
each backend writes in its own wire format) into a `ChatResponse` (text and/or tool calls, token
usage, latency). Backends are addressed as `provider/model` strings; each declares its own
configuration model (see `clinsim.agents.models.registry`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from clinsim.environments.tool_spec import ToolSpec


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] | str = Field(
        description="Parsed JSON arguments, or the raw string when it was not valid JSON."
    )


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] = Field(default_factory=list, description="Local image file paths.")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage]
    tools: list[ToolSpec] | None = None
    tool_instructions: str | None = Field(
        default=None,
        description="How to call the tools, for a chat template without tool support "
        "(None: the bundled tool_code prompt).",
    )
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    stop: list[str] | None = None


class ChatResponse(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    thinking: str | None = Field(default=None, description="Reasoning span stripped from text.")
    finish_reason: str | None = None
    retries: list[str] = Field(default_factory=list, description="One line per retried attempt.")


class ModelError(Exception):
    """A model call failed for good (after any retries, listed one per line in `retries`)."""

    def __init__(self, message: str, retries: list[str] | None = None):
        super().__init__(message)
        self.retries: list[str] = list(retries or [])


class ChatModel(Protocol):
    """A backend. It may also tell `accepts_images: bool`; without it, images are sent and a
    text-only server answers with an error (set `--agent-option multimodal=false`)."""

    address: str

    async def chat(self, request: ChatRequest) -> ChatResponse: ...


@runtime_checkable
class Checkable(Protocol):
    """A backend that can tell, before a run, whether its server answers (`ModelError` if not)."""

    async def check(self) -> None: ...


@runtime_checkable
class Closable(Protocol):
    """A backend that holds connections to close at the end of a run."""

    async def aclose(self) -> None: ...
