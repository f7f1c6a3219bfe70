"""The oracle doctor: orders what the scenario holds, then submits the right answer.

It reads the sealed answer key (the only doctor allowed to), so its score is the upper bound of
a run: anything below 100% points at the judge, the turn budget or the scenario.
"""

from __future__ import annotations

from clinsim.environments.actions import Action, OrderTest, SubmitDiagnosis
from clinsim.environments.factories import RoleRequest, doctor
from clinsim.environments.roles import DoctorView
from clinsim.plugins import NoConfig
from clinsim.scenarios.model import Scenario


class OracleDoctor:
    def __init__(self, scenario: Scenario):
        names = [*scenario.case.exam, *scenario.case.tests]
        self.orders: list[Action] = [OrderTest(test=name.replace("_", " ")) for name in names]
        self.diagnosis = SubmitDiagnosis(diagnosis=scenario.answer.diagnosis)

    async def act(self, view: DoctorView) -> Action:
        last_turn = view.turns_left <= 1
        if view.turn < len(self.orders) and not last_turn:
            return self.orders[view.turn]
        return self.diagnosis


@doctor("oracle")
def oracle(request: RoleRequest, config: NoConfig) -> OracleDoctor:
    """Reads the answer key: orders what the scenario holds, then submits the right answer."""
    return OracleDoctor(request.scenario)
