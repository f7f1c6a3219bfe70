"""Registers the offline patient (`facts`) and measurement (`lookup`) agents.

Options read (`AgentOptions`, extra fields allowed):
- `normal_readings` (bool): the measurement answers tests the scenario lacks with
  "NORMAL READINGS", as AgentClinic does;
- `prices` (path, optional): a price file replacing the bundled table (format in
  `clinsim.environments.prices`); loaded once per run and shared through `resources`.
"""

from __future__ import annotations

from pathlib import Path

from clinsim.agents.patients.facts import FactPatient
from clinsim.agents.registry import AgentRequest, register_agent
from clinsim.environments.measurement import LookupMeasurement
from clinsim.environments.prices import PriceTable


@register_agent("patient", "facts")
def fact_patient(request: AgentRequest) -> FactPatient:
    answer = request.scenario.answer
    return FactPatient(
        request.scenario.case.patient, forbidden=[answer.diagnosis, *answer.synonyms]
    )


def price_table(request: AgentRequest) -> PriceTable:
    """The run's price table: `options.prices` when set, else the bundled one."""
    path = getattr(request.options, "prices", None)
    if not path:
        return PriceTable.default()
    key = f"prices:{Path(str(path)).resolve()}"
    table = request.resources.get(key)
    if not isinstance(table, PriceTable):
        table = PriceTable.load(str(path))
        request.resources[key] = table
    return table


@register_agent("measurement", "lookup")
def lookup_measurement(request: AgentRequest) -> LookupMeasurement:
    return LookupMeasurement(
        request.scenario.case,
        prices=price_table(request),
        normal_readings=request.options.normal_readings,
    )
