"""A chat model and a model pool for tests of the LLM agents: queued replies, every request
kept."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from clinsim.agents.models.base import ChatRequest, ChatResponse, Usage
from clinsim.agents.models.registry import ModelPool


class FakeModel:
    """Answers with queued replies (text, ChatResponse or an exception to raise) and keeps
    every request it was sent."""

    def __init__(self, *replies: str | ChatResponse | Exception, address: str = "fake/m"):
        self.address = address
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []
        self.on_request: Callable[[ChatRequest], object] = lambda _request: None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        self.on_request(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, str):
            return ChatResponse(text=reply, usage=Usage(prompt_tokens=9, completion_tokens=2))
        return reply


class FakePool(ModelPool):
    """Hands out one fake model, whatever the address, and remembers the addresses asked."""

    def __init__(self, model: FakeModel):
        super().__init__()
        self.model = model
        self.asked: list[str] = []

    def get(self, address: str, config: BaseModel | None = None) -> FakeModel:  # type: ignore[override]
        self.asked.append(address)
        return self.model
