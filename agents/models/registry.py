"""Backends addressed as `provider/model` strings (`openai/medgemma`, `hf/google/medgemma-4b-it`,
`replay/RUN`). One decorated factory per provider; `ModelPool` shares loaded models in a run."""

from __future__ import annotations

from collections.abc import Callable

from clinsim.agents.models.base import ChatModel, ModelSettings

ModelFactory = Callable[[str, ModelSettings], ChatModel]
"""(model name after the provider prefix, settings) -> backend."""

_PROVIDERS: dict[str, ModelFactory] = {}
# Modules whose import registers providers; imported on first use (some import torch).
BUILTIN_PROVIDER_MODULES: list[str] = [
    "clinsim.agents.models.openai",
    "clinsim.agents.models.hf",
    "clinsim.agents.models.replay",
]


def register_provider(name: str) -> Callable[[ModelFactory], ModelFactory]:
    def decorate(factory: ModelFactory) -> ModelFactory:
        _PROVIDERS[name] = factory
        return factory

    return decorate


def split_address(address: str) -> tuple[str, str]:
    provider, _, name = address.partition("/")
    return provider, name


def _load_builtins() -> None:
    import importlib

    for module in BUILTIN_PROVIDER_MODULES:
        importlib.import_module(module)


def is_model_provider(provider: str) -> bool:
    _load_builtins()
    return provider in _PROVIDERS


def load_model(address: str, settings: ModelSettings | None = None) -> ChatModel:
    provider, name = split_address(address)
    _load_builtins()
    if provider not in _PROVIDERS:
        known = ", ".join(sorted(_PROVIDERS)) or "none"
        raise ValueError(f"unknown model provider {provider!r} in {address!r} (known: {known})")
    if not name:
        raise ValueError(f"model address {address!r} has no model name after '{provider}/'")
    return _PROVIDERS[provider](name, settings or ModelSettings())


class ModelPool:
    """Loads each model address once per run and hands out the same instance."""

    def __init__(self, settings: ModelSettings | None = None):
        self.settings = settings or ModelSettings()
        self._models: dict[str, ChatModel] = {}

    def get(self, address: str) -> ChatModel:
        if address not in self._models:
            self._models[address] = load_model(address, self.settings)
        return self._models[address]

    async def check(self) -> None:
        """Ask every loaded backend that can (a `check()` coroutine, e.g. a server backend
        asking its endpoints) whether it is reachable; its ModelError says which is not."""
        for model in self._models.values():
            check = getattr(model, "check", None)
            if check is not None:
                await check()

    async def aclose(self) -> None:
        """Close every backend that holds connections (HTTP clients)."""
        for model in self._models.values():
            close = getattr(model, "aclose", None)
            if close is not None:
                await close()
