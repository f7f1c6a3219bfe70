"""A model backend: `canned/NAME` answers every call with the same configured reply. Any role
can be played by it (`--patient canned/x --model-option patient.reply="..."`)."""

from __future__ import annotations

from pydantic import Field

from clinsim.agents.models.base import ChatRequest, ChatResponse
from clinsim.agents.models.registry import backend
from clinsim.plugins import Config


class CannedConfig(Config):
    reply: str = Field(default="I'm not sure.", description="The reply to every call.")


class CannedModel:
    def __init__(self, name: str, config: CannedConfig):
        self.address = f"canned/{name}"
        self.config = config

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return ChatResponse(text=self.config.reply)


@backend("canned", config=CannedConfig)
def canned_backend(name: str, config: CannedConfig) -> CannedModel:
    """Answers every call with the configured reply."""
    return CannedModel(name, config)
