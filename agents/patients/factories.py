"""Registers the offline patient (`facts`) and measurement (`lookup`) agents.

Options read (`AgentOptions`, extra fields allowed):
- `normal_readings` (bool): the measurement answers tests the scenario lacks with
  "NORMAL READINGS", as AgentClinic does;
- `prices` (path, optional): a price file replacing the bundled table (format in
  `clinsim.environments.prices`); loaded once per run and shared through `resources`.
"""

from __future__ import annotations

from clinsim.agents.patients.facts import FactPatient
from clinsim.agents.registry import AgentRequest, register_agent
from clinsim.environments.measurement import LookupMeasurement
from clinsim.environments.prices import run_price_table


@register_agent("patient", "facts")
def fact_patient(request: AgentRequest) -> FactPatient:
    answer = request.scenario.answer
    return FactPatient(
        request.scenario.case.patient, forbidden=[answer.diagnosis, *answer.synonyms]
    )


@register_agent("measurement", "lookup")
def lookup_measurement(request: AgentRequest) -> LookupMeasurement:
    return LookupMeasurement(
        request.scenario.case,
        prices=run_price_table(getattr(request.options, "prices", None), request.resources),
        normal_readings=request.options.normal_readings,
    )
