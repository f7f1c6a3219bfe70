"""A run's components, found and configured before anything runs.

`resolve(config)` finds the factory of every role's address (and the backend of every model
address) and of every tool, hands each option to the components that take its key, and
validates every component's configuration. A key that no selected component takes, or a value
a component refuses, is an error naming the components and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, JsonValue

from clinsim.agents.factories import (
    DOCTORS,
    JUDGES,
    MEASUREMENTS,
    PATIENTS,
    AgentRequest,
    find_factory,
)
from clinsim.agents.models.base import ChatModel
from clinsim.agents.models.registry import BACKENDS, ModelPool, is_model_address
from clinsim.agents.prompts import RolePrompts
from clinsim.config import Fork, Options, RunConfig, StoredRun
from clinsim.environments.factories import Role, split_address
from clinsim.environments.roles import Doctor, Judge, Measurement, Patient
from clinsim.plugins import Factory, PluginError, Registry
from clinsim.prompting import PlayedRole, Recorded, plan_prompts, stored_prompts
from clinsim.scenarios.model import Scenario
from clinsim.tools.base import TOOLS, BaseTool

T = TypeVar("T")
In = TypeVar("In")


class OptionError(PluginError):
    """An option no selected component takes, or a target that is not selected."""

    def __init__(self, message: str, what: str, key: str):
        super().__init__(message)
        self.what, self.key = what, key


@dataclass
class _Pending(Generic[In, T]):
    """A selected component waiting for its settings."""

    target: str
    factory: Factory[In, T]
    registry: Registry[Factory[In, T]]
    values: dict[str, JsonValue] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.target} {self.factory.name!r}"

    def takes(self, key: str) -> bool:
        return key in self.factory.config.model_fields

    def configured(self) -> Configured[In, T]:
        distribution = self.registry.entry(self.factory.name).distribution
        return Configured(self.factory, self.factory.configure(self.values), distribution)


@dataclass(frozen=True)
class Configured(Generic[In, T]):
    """A component's factory with its validated configuration."""

    factory: Factory[In, T]
    config: BaseModel
    distribution: str

    def describe(self) -> dict[str, JsonValue]:
        return {
            "component": self.factory.name,
            "package": self.distribution,
            "config": self.config.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class Player(Generic[T]):
    """Who plays a role: the address, its factory and, for a model address, its backend and
    the role's prompt templates."""

    role: Role
    address: str
    agent: Configured[AgentRequest, T]
    backend: Configured[str, ChatModel] | None
    prompts: RolePrompts | None = None

    def build(self, scenario: Scenario, seed: int, models: ModelPool) -> T:
        backend = self.backend.config if self.backend is not None else None
        request = AgentRequest(
            self.role, self.address, scenario, seed, models, backend, self.prompts
        )
        return self.agent.factory.build(request, self.agent.config)

    @property
    def played(self) -> PlayedRole:
        return PlayedRole(self.role, self.address, self.agent.config)

    def with_prompts(self, planned: Mapping[str, RolePrompts]) -> Player[T]:
        return replace(self, prompts=planned.get(self.role))

    def describe(self) -> dict[str, JsonValue]:
        described = {"address": self.address, **self.agent.describe()}
        if self.backend is not None:
            described["model"] = self.backend.describe()
        return described


@dataclass(frozen=True)
class Plan:
    """Everything a run plays with, configured."""

    config: RunConfig
    doctor: Player[Doctor]
    patient: Player[Patient]
    measurement: Player[Measurement]
    judges: list[Player[Judge]]
    tools: list[Configured[None, BaseTool]]
    prompts: dict[str, RolePrompts] = field(default_factory=dict)
    """The templates of every role played from prompts, by role."""

    def build_tools(self) -> list[BaseTool]:
        return [tool.factory.build(None, tool.config) for tool in self.tools]

    def stored(
        self, fork: Fork | None = None, fork_doctor: Player[Doctor] | None = None
    ) -> StoredRun:
        """What the run store keeps: the config, the components' validated settings, every
        prompt template used, the fork and its new doctor's templates."""
        fork_prompts = {}
        if fork_doctor is not None and fork_doctor.prompts is not None:
            fork_prompts = stored_prompts({"doctor": fork_doctor.prompts})
        return StoredRun(
            run=self.config,
            components=self.describe(),
            prompts=stored_prompts(self.prompts),
            fork=fork,
            fork_prompts=fork_prompts,
        )

    def describe(self) -> dict[str, JsonValue]:
        """The validated configuration of every component, as stored with the run."""
        return {
            "doctor": self.doctor.describe(),
            "patient": self.patient.describe(),
            "measurement": self.measurement.describe(),
            "judges": [judge.describe() for judge in self.judges],
            "tools": {tool.factory.name: tool.describe() for tool in self.tools},
        }


class _Role(Generic[T]):
    """A role's address, resolved to its factory and backend, waiting for options."""

    def __init__(self, role: Role, address: str, registry: Registry[Factory[AgentRequest, T]]):
        self.role, self.address = role, address
        self.agent = _Pending(role, find_factory(registry, address), registry)
        self.backend: _Pending[str, ChatModel] | None = None
        if is_model_address(address):
            provider, _ = split_address(address)
            self.backend = _Pending(role, BACKENDS.get(provider), BACKENDS)

    def player(self) -> Player[T]:
        backend = self.backend.configured() if self.backend is not None else None
        return Player(self.role, self.address, self.agent.configured(), backend)


def _assign(options: Options, pending: Sequence[_Pending[Any, Any]], what: str) -> None:
    """Give each option to the selected components that take its key."""
    for key, value in options.items():
        target, _, name = key.rpartition(".")
        chosen = [p for p in pending if not target or p.target == target]
        if target and not chosen:
            targets = ", ".join(sorted({p.target for p in pending})) or "none"
            raise OptionError(
                f"{what} {key}: {target!r} is not selected (selected: {targets})", what, key
            )
        takers = [p for p in chosen if p.takes(name)]
        if not takers:
            selected = ", ".join(p.label for p in chosen) or "none"
            raise OptionError(
                f"{what} {key}: no selected component takes {name!r} ({selected})", what, key
            )
        for p in takers:
            p.values[name] = value


def _secret(api_key: str | None, backends: Sequence[_Pending[str, ChatModel]]) -> None:
    """The API key goes to every backend that takes one, and is never stored."""
    if api_key is None:
        return
    for backend in backends:
        if backend.takes("api_key"):
            backend.values["api_key"] = api_key


def _configure(
    roles: Sequence[_Role[Any]], agent_options: Options, model_options: Options, api_key: str | None
) -> None:
    _assign(agent_options, [r.agent for r in roles], "agent option")
    backends = [r.backend for r in roles if r.backend is not None]
    if model_options and not backends:
        key = next(iter(model_options))
        played = ", ".join(r.agent.label for r in roles)
        message = f"model option {key}: no role is played by a model ({played})"
        raise OptionError(message, "model option", key)
    _assign(model_options, backends, "model option")
    _secret(api_key, backends)


def resolve(
    config: RunConfig, api_key: str | None = None, recorded: Recorded | None = None
) -> Plan:
    """Every component of the run, configured, with its prompt templates checked;
    `PluginError` or `PromptError` says what does not fit. `recorded`: the templates of a
    stored run, played in place of the files and the bundled ones (replays)."""
    doctor = _Role("doctor", config.doctor, DOCTORS)
    patient = _Role("patient", config.patient, PATIENTS)
    measurement = _Role("measurement", config.measurement, MEASUREMENTS)
    judges = [_Role("judge", address, JUDGES) for address in config.judges]
    roles: list[_Role[Any]] = [doctor, patient, measurement, *judges]
    _configure(roles, config.agent_options, config.model_options, api_key)
    tools = [_Pending(name, TOOLS.get(name), TOOLS) for name in config.tools]
    _assign(config.tool_options, tools, "tool option")
    players = (doctor.player(), patient.player(), measurement.player())
    judged = [judge.player() for judge in judges]
    played = [p.played for p in players] + [judge.played for judge in judged]
    planned = plan_prompts(config.prompts, played, recorded)
    return Plan(
        config=config,
        doctor=players[0].with_prompts(planned),
        patient=players[1].with_prompts(planned),
        measurement=players[2].with_prompts(planned),
        judges=[judge.with_prompts(planned) for judge in judged],
        tools=[tool.configured() for tool in tools],
        prompts=planned,
    )


def resolve_doctor(
    fork: Fork, api_key: str | None = None, recorded: Recorded | None = None
) -> Player[Doctor]:
    """A fork's new doctor, configured by options that target only it, with its templates."""
    doctor = _Role("doctor", fork.doctor, DOCTORS)
    _configure([doctor], fork.agent_options, fork.model_options, api_key)
    player = doctor.player()
    return player.with_prompts(plan_prompts(fork.prompts, [player.played], recorded))


def resolve_judges(
    addresses: list[str], agent_options: Options, model_options: Options, api_key: str | None
) -> list[Player[Judge]]:
    """Judges alone, configured (`clinsim judge`)."""
    judges = [_Role("judge", address, JUDGES) for address in addresses]
    _configure(judges, agent_options, model_options, api_key)
    return [judge.player() for judge in judges]
