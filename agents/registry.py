"""Who plays each role, by address: one decorated factory per (role, provider).

Addresses: `oracle`, `baseline`, `scripted/PATH` (doctor); `facts` (patient); `lookup`
(measurement); `rules` (judge); and any model address (`openai/NAME`, `hf/ORG/NAME`,
`replay/RUN`) for any role, handled by the role's `llm` factory; `human` for a person.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clinsim.agents.models.registry import ModelPool, is_model_provider, split_address
from clinsim.scenarios.model import Scenario

Role = Literal["doctor", "patient", "measurement", "judge"]


class AgentOptions(BaseModel):
    """Run-wide options agents read; each factory documents what it uses."""

    model_config = ConfigDict(extra="allow")

    doctor_protocol: Literal["json", "tools", "agentclinic"] = "json"
    doctor_bias: str | None = None
    patient_bias: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    normal_readings: bool = Field(
        default=False, description="Answer tests a scenario lacks with 'NORMAL READINGS'."
    )


@dataclass
class AgentRequest:
    role: Role
    address: str
    provider: str
    name: str
    scenario: Scenario
    seed: int
    options: AgentOptions
    models: ModelPool
    resources: dict[str, Any] = field(default_factory=dict)


AgentFactory = Callable[[AgentRequest], Any]
_FACTORIES: dict[tuple[str, str], AgentFactory] = {}
# Modules whose import registers agent factories.
BUILTIN_AGENT_MODULES: list[str] = [
    "clinsim.agents.doctors.scripted",
    "clinsim.agents.doctors.oracle",
    "clinsim.agents.human",
    "clinsim.agents.llm.factories",
    "clinsim.agents.patients.factories",
    "clinsim.agents.judges.rules",
    "clinsim.agents.doctors.baseline",
]


def register_agent(role: Role, provider: str) -> Callable[[AgentFactory], AgentFactory]:
    def decorate(factory: AgentFactory) -> AgentFactory:
        _FACTORIES[(role, provider)] = factory
        return factory

    return decorate


def _load_builtins() -> None:
    for module in BUILTIN_AGENT_MODULES:
        importlib.import_module(module)


def known_addresses(role: Role) -> list[str]:
    _load_builtins()
    return sorted(p for r, p in _FACTORIES if r == role and p != "llm")


def make_agent(
    role: Role,
    address: str,
    scenario: Scenario,
    seed: int,
    options: AgentOptions,
    models: ModelPool,
    resources: dict[str, Any] | None = None,
) -> Any:
    _load_builtins()
    provider, name = split_address(address)
    factory = _FACTORIES.get((role, provider))
    if factory is None and is_model_provider(provider):
        factory = _FACTORIES.get((role, "llm"))
    if factory is None:
        known = ", ".join(known_addresses(role))
        raise ValueError(f"no {role} called {address!r} (known: {known}, or a model address)")
    request = AgentRequest(
        role,
        address,
        provider,
        name,
        scenario,
        seed,
        options,
        models,
        resources if resources is not None else {},
    )
    return factory(request)
