"""How a component that plays a role is declared: a factory per (role, name), built per episode
from a `RoleRequest` and the component's validated configuration.

    @measurement("lookup", config=LookupConfig)
    def lookup(request: RoleRequest, config: LookupConfig) -> LookupMeasurement: ...

A role is chosen by address: `NAME` or `NAME/REST` (`scripted/PATH`), where NAME is the factory
and REST is for it to read (`request.name`). Factories that need the run's models take the
`AgentRequest` of `clinsim.agents.factories` instead (a `RoleRequest` with the model pool).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from clinsim.environments.roles import Doctor, Judge, Measurement, Patient
from clinsim.plugins import Factory, NoConfig, factory
from clinsim.scenarios.model import Scenario

Role = Literal["doctor", "patient", "measurement", "judge"]
ROLE_GROUPS: dict[Role, str] = {
    "doctor": "clinsim.doctors",
    "patient": "clinsim.patients",
    "measurement": "clinsim.measurements",
    "judge": "clinsim.judges",
}


def split_address(address: str) -> tuple[str, str]:
    """`openai/medgemma` -> ("openai", "medgemma"); `oracle` -> ("oracle", "")."""
    provider, _, name = address.partition("/")
    return provider, name


@dataclass(frozen=True)
class RoleRequest:
    """What a factory knows when it builds a role's player for one episode."""

    role: Role
    address: str
    scenario: Scenario
    """The whole scenario, answer key included: a factory passes on only what its player may
    see (the oracle doctor alone reads the answer key)."""
    seed: int

    @property
    def provider(self) -> str:
        return split_address(self.address)[0]

    @property
    def name(self) -> str:
        """The address after `provider/` (a script path, a model name), or ''."""
        return split_address(self.address)[1]


R = TypeVar("R", bound=RoleRequest)
C = TypeVar("C", bound=BaseModel)
P = TypeVar("P")


class RoleDecorator(Protocol[P]):
    def __call__(self, build: Callable[[R, C], P]) -> Factory[R, P]: ...


def _factory(
    role: Role,
    name: str,
    config: type[BaseModel],
    build: Callable[[R, C], P],
    description: str | None,
) -> Factory[R, P]:
    return factory(ROLE_GROUPS[role], name, config, description)(build)


def doctor(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> RoleDecorator[Doctor]:
    """Decorator: declare a doctor factory `(request, config) -> Doctor`."""

    def decorate(build: Callable[[R, C], Doctor]) -> Factory[R, Doctor]:
        return _factory("doctor", name, config, build, description)

    return decorate


def patient(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> RoleDecorator[Patient]:
    """Decorator: declare a patient factory `(request, config) -> Patient`."""

    def decorate(build: Callable[[R, C], Patient]) -> Factory[R, Patient]:
        return _factory("patient", name, config, build, description)

    return decorate


def measurement(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> RoleDecorator[Measurement]:
    """Decorator: declare a measurement factory `(request, config) -> Measurement`."""

    def decorate(build: Callable[[R, C], Measurement]) -> Factory[R, Measurement]:
        return _factory("measurement", name, config, build, description)

    return decorate


def judge(
    name: str, config: type[BaseModel] = NoConfig, description: str | None = None
) -> RoleDecorator[Judge]:
    """Decorator: declare a judge factory `(request, config) -> Judge`."""

    def decorate(build: Callable[[R, C], Judge]) -> Factory[R, Judge]:
        return _factory("judge", name, config, build, description)

    return decorate
