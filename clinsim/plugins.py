"""Components and where they come from: factories with typed configurations, found through
Python entry points.

Every component clinsim can use (doctors, patients, measurement agents, judges, tools, model
backends, scenario sets) is declared by an installed package in its `pyproject.toml`, clinsim's
own built-ins exactly like a third party's:

    [project.entry-points."clinsim.doctors"]
    my-doctor = "my_package.doctors:my_doctor"

The entry point names one object: a `Factory` (a name, a pydantic configuration model that
refuses unknown keys, and a typed build function) or, for scenario sets, the set itself. A
`Registry` reads one entry-point group and imports only what is asked for, so listing names or
starting the CLI imports no component. Two packages declaring the same name in one group is an
error naming both.

This module imports nothing else from clinsim: every layer may use it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)
T = TypeVar("T")


class Config(BaseModel):
    """Base of component configurations: unknown keys are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoConfig(Config):
    """The configuration of a component that has no settings."""


class PluginError(Exception):
    """A component that cannot be found, loaded or configured; the message says which."""


def _problems(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(config)"
        lines.append(f"{where}: {str(problem['msg']).removeprefix('Value error, ')}")
    return "; ".join(lines)


class Factory(Generic[In, Out]):
    """A named way to build a component from a request and a validated configuration."""

    def __init__(
        self,
        group: str,
        name: str,
        config: type[BaseModel],
        build: Callable[[In, Any], Out],
        description: str = "",
    ):
        if config.model_config.get("extra") != "forbid":
            raise TypeError(f"{group} {name!r}: its config model must refuse unknown keys")
        self.group, self.name, self.config = group, name, config
        self.description = description
        self._build = build

    def __repr__(self) -> str:
        return f"Factory({self.group!r}, {self.name!r})"

    def configure(self, values: Mapping[str, object] | None = None) -> BaseModel:
        """The validated configuration; a `PluginError` names the component and the key."""
        try:
            return self.config.model_validate(dict(values or {}))
        except ValidationError as error:
            raise PluginError(f"{self.group} {self.name!r}: {_problems(error)}") from None

    def build(self, request: In, config: BaseModel) -> Out:
        if not isinstance(config, self.config):
            raise TypeError(f"{self.name!r} takes a {self.config.__name__}, not {type(config)}")
        return self._build(request, config)


def factory(
    group: str, name: str, config: type[BaseModel], description: str | None = None
) -> Callable[[Callable[[In, Any], Out]], Factory[In, Out]]:
    """Decorator: the function `(request, config) -> component` as a `Factory` of `group`;
    its description is `description`, else the first line of the function's docstring. Each
    kind of component has a typed decorator built on this one (`clinsim.environments.factories.
    doctor`, `clinsim.tools.base.tool`, `clinsim.agents.models.registry.backend`)."""

    def decorate(build: Callable[[In, Any], Out]) -> Factory[In, Out]:
        text = description if description is not None else (build.__doc__ or "")
        return Factory(group, name, config, build, text.strip().split("\n")[0])

    return decorate


@dataclass(frozen=True)
class Installed:
    """A component declared by an installed package, not yet imported."""

    group: str
    name: str
    value: str
    distribution: str


_SCANS: dict[tuple[str, tuple[str, ...]], list[Installed]] = {}


def _scan(group: str) -> list[Installed]:
    """The group's entry points, read once per `sys.path`."""
    key = (group, tuple(sys.path))
    if key not in _SCANS:
        found = entry_points(group=group)
        _SCANS[key] = [
            Installed(group, point.name, point.value, _distribution(point)) for point in found
        ]
    return _SCANS[key]


def _distribution(point: EntryPoint) -> str:
    return point.dist.name if point.dist is not None else "?"


class Registry(Generic[T]):
    """The components of one entry-point group, loaded on first use."""

    def __init__(self, group: str, kind: str, accepts: Callable[[object], bool]):
        self.group, self.kind = group, kind
        self._accepts = accepts
        self._loaded: dict[tuple[str, str], T] = {}

    def installed(self) -> list[Installed]:
        """Every declared component, in declaration order (each package's entry points in the
        order it lists them); the same name from two packages is an error."""
        entries = _scan(self.group)
        if not entries:
            raise PluginError(
                f"no {self.kind}s are installed (entry-point group {self.group!r}); if clinsim "
                "is installed from source, reinstall it (pip install -e .) to register them"
            )
        by_name: dict[str, list[Installed]] = {}
        for entry in entries:
            by_name.setdefault(entry.name, []).append(entry)
        for name, found in by_name.items():
            if len({entry.distribution for entry in found}) > 1:
                ordered = sorted(found, key=lambda e: e.distribution)
                where = ", ".join(f"{e.distribution} ({e.value})" for e in ordered)
                raise PluginError(f"two packages declare the {self.kind} {name!r}: {where}")
        return [found[0] for found in by_name.values()]

    def names(self) -> list[str]:
        return sorted(entry.name for entry in self.installed())

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def entry(self, name: str) -> Installed:
        for entry in self.installed():
            if entry.name == name:
                return entry
        raise PluginError(f"no {self.kind} {name!r} (installed: {', '.join(self.names())})")

    def get(self, name: str) -> T:
        """The component called `name`, imported on first use."""
        entry = self.entry(name)
        key = (entry.distribution, entry.value)
        if key not in self._loaded:
            self._loaded[key] = self._load(entry)
        return self._loaded[key]

    def _load(self, entry: Installed) -> T:
        point = EntryPoint(entry.name, entry.value, entry.group)
        try:
            component = point.load()
        except Exception as error:  # a broken plugin: say which one, keep the traceback's point
            raise PluginError(
                f"{self.kind} {entry.name!r} from {entry.distribution} ({entry.value}) cannot be "
                f"loaded: {type(error).__name__}: {error}"
            ) from error
        if not self._accepts(component):
            raise PluginError(
                f"{self.kind} {entry.name!r} from {entry.distribution}: {entry.value} is not a "
                f"{self.kind} component (got {type(component).__name__})"
            )
        name = getattr(component, "name", entry.name)
        if name != entry.name:
            raise PluginError(
                f"{entry.distribution} declares the {self.kind} {entry.name!r} but {entry.value} "
                f"is called {name!r}"
            )
        return cast(T, component)


def factory_of(group: str) -> Callable[[object], bool]:
    """What a registry of factories accepts: a `Factory` made for `group`."""

    def accepts(component: object) -> bool:
        return isinstance(component, Factory) and component.group == group

    return accepts
