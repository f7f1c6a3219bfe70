"""Building a role's player the way a run does: found by address among the installed
components, configured, built for one scenario."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

from clinsim.agents.factories import (
    DOCTORS,
    JUDGES,
    MEASUREMENTS,
    PATIENTS,
    AgentRequest,
    find_factory,
)
from clinsim.agents.models.registry import ModelPool
from clinsim.environments.factories import Role
from clinsim.scenarios.model import Scenario
from clinsim.tools.base import TOOLS, BaseTool

REGISTRIES: dict[Role, Any] = {
    "doctor": DOCTORS,
    "patient": PATIENTS,
    "measurement": MEASUREMENTS,
    "judge": JUDGES,
}


def player(
    role: Role,
    address: str,
    scenario: Scenario,
    models: ModelPool | None = None,
    **settings: JsonValue,
) -> Any:
    made = find_factory(REGISTRIES[role], address)
    request = AgentRequest(role, address, scenario, 0, models or ModelPool())
    return made.build(request, made.configure(settings))


def tool(name: str, **settings: JsonValue) -> BaseTool:
    """The installed tool called `name`, configured as a run would."""
    made = TOOLS.get(name)
    return made.build(None, made.configure(settings))
