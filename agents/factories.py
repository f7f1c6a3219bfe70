"""Who can play each role: the installed doctors, patients, measurement agents and judges, by
address, and the request their factories receive.

Addresses: a factory's name (`baseline`, `oracle`, `facts`, `lookup`, `rules`, `human`, or a
plugin's), optionally with a path or name after a slash (`scripted/PATH`, `baseline/PATH`); and
any model address (`openai/NAME`, `hf/ORG/NAME`, `replay/RUN`, or a plugin backend's) for any
role, which the role's `llm` factory plays with that model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from clinsim.agents.models.base import ChatModel
from clinsim.agents.models.registry import BACKENDS, ModelPool, is_model_address
from clinsim.agents.prompts.library import RolePrompts
from clinsim.environments.factories import ROLE_GROUPS, Role, RoleRequest, split_address
from clinsim.environments.roles import Doctor, Judge, Measurement, Patient
from clinsim.plugins import Factory, PluginError, Registry, factory_of

LLM = "llm"
"""The factory of each role that plays it with a model address."""

T = TypeVar("T")


@dataclass(frozen=True)
class AgentRequest(RoleRequest):
    """A `RoleRequest` with the run's models: what a role played by a model needs."""

    models: ModelPool
    backend: BaseModel | None = None
    """The validated configuration of this role's model backend (model addresses only)."""
    prompts: RolePrompts | None = None
    """The role's prompt templates for this run (components played from prompts); None: the
    bundled ones."""

    def model(self) -> ChatModel:
        """The model of this role's address, configured for this run, shared within the run."""
        return self.models.get(self.address, self.backend)


def _group(role: Role) -> tuple[str, str, Callable[[object], bool]]:
    return ROLE_GROUPS[role], role, factory_of(ROLE_GROUPS[role])


DOCTORS: Registry[Factory[AgentRequest, Doctor]] = Registry(*_group("doctor"))
PATIENTS: Registry[Factory[AgentRequest, Patient]] = Registry(*_group("patient"))
MEASUREMENTS: Registry[Factory[AgentRequest, Measurement]] = Registry(*_group("measurement"))
JUDGES: Registry[Factory[AgentRequest, Judge]] = Registry(*_group("judge"))


def known_addresses(registry: Registry[Factory[AgentRequest, T]]) -> list[str]:
    """The role's factories by name (the `llm` factory is reached through model addresses)."""
    return [name for name in registry.names() if name != LLM]


def find_factory(
    registry: Registry[Factory[AgentRequest, T]], address: str
) -> Factory[AgentRequest, T]:
    """The factory that plays `address` in this role: the one named by its first part, else the
    role's `llm` factory for a model address."""
    provider, _ = split_address(address)
    if provider != LLM and provider in registry:
        return registry.get(provider)
    if is_model_address(address):
        return registry.get(LLM)
    known = ", ".join(known_addresses(registry))
    backends = ", ".join(f"{name}/..." for name in BACKENDS.names())
    raise PluginError(
        f"no {registry.kind} called {address!r} (known: {known}, or a model address: {backends})"
    )
