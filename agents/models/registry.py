"""Model backends, addressed as `provider/model` strings (`openai/medgemma`,
`hf/google/medgemma-4b-it`, `replay/RUN`).

A backend is declared in the `clinsim.models` entry-point group by a factory
`(model name, config) -> ChatModel`:

    @backend("openai", config=OpenAIConfig)
    def openai_backend(name: str, config: OpenAIConfig) -> OpenAIChatModel: ...

`ModelPool` builds each (address, configuration) once per run and hands out the same instance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from pydantic import BaseModel, SecretStr

from clinsim.agents.models.base import ChatModel, Checkable, Closable
from clinsim.environments.factories import split_address
from clinsim.plugins import Factory, NoConfig, PluginError, Registry, factory, factory_of

__all__ = [
    "BACKENDS",
    "ModelPool",
    "backend",
    "config_key",
    "is_model_address",
    "load_model",
    "split_address",
]

GROUP = "clinsim.models"
BACKENDS: Registry[Factory[str, ChatModel]] = Registry(GROUP, "model backend", factory_of(GROUP))
"""Every installed model backend, by provider name."""

C = TypeVar("C", bound=BaseModel)


class BackendDecorator(Protocol):
    def __call__(self, build: Callable[[str, C], ChatModel]) -> Factory[str, ChatModel]: ...


def backend(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> BackendDecorator:
    """Decorator: declare the factory of the `name/...` model addresses."""

    def decorate(build: Callable[[str, C], ChatModel]) -> Factory[str, ChatModel]:
        return factory(GROUP, name, config, description)(build)

    return decorate


def is_model_address(address: str) -> bool:
    """Whether `address` names a model (its provider is an installed backend)."""
    provider, name = split_address(address)
    return bool(name) and provider in BACKENDS


def load_model(address: str, config: BaseModel | Mapping[str, object] | None = None) -> ChatModel:
    """The backend for `address`; `config` is validated against the backend's config model."""
    provider, name = split_address(address)
    if provider not in BACKENDS:
        known = ", ".join(BACKENDS.names())
        raise PluginError(f"unknown model provider {provider!r} in {address!r} (known: {known})")
    if not name:
        raise PluginError(f"model address {address!r} has no model name after '{provider}/'")
    made = BACKENDS.get(provider)
    settings = config if isinstance(config, BaseModel) else made.configure(config)
    return made.build(name, settings)


class ModelPool:
    """Builds each model address (with one configuration) once per run and shares it."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], ChatModel] = {}

    def get(self, address: str, config: BaseModel | None = None) -> ChatModel:
        key = (address, config_key(config))
        if key not in self._models:
            self._models[key] = load_model(address, config)
        return self._models[key]

    async def check(self) -> None:
        """Ask every loaded backend that can (`Checkable`, e.g. a server backend asking its
        endpoints) whether it is reachable; its ModelError says which is not."""
        for model in self._models.values():
            if isinstance(model, Checkable):
                await model.check()

    async def aclose(self) -> None:
        """Close every backend that holds connections (HTTP clients)."""
        for model in self._models.values():
            if isinstance(model, Closable):
                await model.aclose()


def config_key(config: BaseModel | None) -> str:
    """Equal for equal configurations (secrets compared, not kept in the key)."""
    if config is None:
        return ""
    secrets = {name for name, field in type(config).model_fields.items() if field.exclude}
    shown = config.model_dump(mode="json", exclude=secrets)
    hidden = {name: _digest(value) for name, value in config if name in secrets}
    return json.dumps([type(config).__qualname__, shown, hidden], sort_keys=True)


def _digest(value: object) -> str:
    """Tells two secrets apart without keeping them in the key."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else repr(value)
    return hashlib.sha256(str(text).encode()).hexdigest()
