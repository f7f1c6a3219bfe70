"""A doctor: reads the vital signs with the plugin's own tool, asks one question, then submits
a diagnosis chosen by what the blood pressure showed. It sees only the `DoctorView`."""

from __future__ import annotations

from pydantic import Field

from clinsim.environments.actions import Action, AskPatient, CallTool, SubmitDiagnosis
from clinsim.environments.factories import RoleRequest, doctor
from clinsim.environments.roles import DoctorView
from clinsim.plugins import Config


class VitalsDoctorConfig(Config):
    question: str = Field(default="What brings you in today?", description="Asked once.")
    if_high: str = Field(default="Essential hypertension", description="Diagnosis for a high BP.")
    otherwise: str = Field(default="Viral upper respiratory infection", description="Else this.")


class VitalsDoctor:
    def __init__(self, config: VitalsDoctorConfig):
        self.config = config

    async def act(self, view: DoctorView) -> Action:
        taken = [exchange.action for exchange in view.history]
        if "read_vitals" in {spec.name for spec in view.tools} and not any(
            isinstance(a, CallTool) for a in taken
        ):
            return CallTool(tool="read_vitals", arguments={"sign": "blood_pressure"})
        if not any(isinstance(a, AskPatient) for a in taken) and view.turns_left > 1:
            return AskPatient(question=self.config.question)
        high = any("Blood pressure is high" in x.observation for x in view.history)
        return SubmitDiagnosis(diagnosis=self.config.if_high if high else self.config.otherwise)


@doctor("vitals", config=VitalsDoctorConfig)
def vitals_doctor(request: RoleRequest, config: VitalsDoctorConfig) -> VitalsDoctor:
    """Reads the vital signs with `read_vitals`, asks one question, diagnoses by the BP."""
    return VitalsDoctor(config)
