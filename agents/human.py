"""`human`: a person plays the doctor or the patient at the terminal.

The role pauses the encounter graph with LangGraph's `interrupt`; the runner shows the prompt,
reads the person's reply and resumes the graph with it. Doctor input:
    any text            ask the patient that question
    /test NAME          order a test or examination
    /tool NAME {json}   call a tool with JSON arguments
    /dx DIAGNOSIS; ALTERNATIVE; ...   submit a diagnosis with a ranked differential
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.types import interrupt

from clinsim.environments.actions import Action, AskPatient, CallTool, OrderTest, SubmitDiagnosis
from clinsim.environments.context import current_episode
from clinsim.environments.factories import RoleRequest, doctor, patient
from clinsim.environments.roles import DoctorView, PatientTurn
from clinsim.plugins import NoConfig

DOCTOR_HELP = (
    "type a question for the patient, or /test NAME, /tool NAME {json}, "
    "/dx DIAGNOSIS; ALTERNATIVE; ..."
)
MAX_ATTEMPTS = 3


class HumanInputError(ValueError):
    pass


def parse_doctor_input(text: str) -> Action:
    text = text.strip()
    if not text:
        raise HumanInputError("empty input")
    command, _, rest = text.partition(" ")
    rest = rest.strip()
    if command == "/test":
        if not rest:
            raise HumanInputError("/test needs a test name")
        return OrderTest(test=rest)
    if command == "/dx":
        names = [n.strip() for n in rest.split(";") if n.strip()]
        if not names:
            raise HumanInputError("/dx needs a diagnosis")
        return SubmitDiagnosis(diagnosis=names[0], differential=names[1:])
    if command == "/tool":
        name, _, raw = rest.partition(" ")
        if not name:
            raise HumanInputError("/tool needs a tool name")
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise HumanInputError(f"tool arguments are not JSON: {exc.msg}") from None
        if not isinstance(arguments, dict):
            raise HumanInputError("tool arguments must be a JSON object")
        return CallTool(tool=name, arguments=arguments)
    if command.startswith("/"):
        raise HumanInputError(f"unknown command {command}")
    return AskPatient(question=text)


class HumanDoctor:
    async def act(self, view: DoctorView) -> Action:
        last = view.history[-1].observation if view.history else view.vignette or view.objective
        prompt: dict[str, Any] = {
            "role": "doctor",
            "episode_id": current_episode().episode_id,
            "turn": view.turn + 1,
            "turns_left": view.turns_left,
            "text": last,
            "tools": [spec.name for spec in view.tools],
            "help": DOCTOR_HELP,
        }
        for _ in range(MAX_ATTEMPTS):
            reply = str(interrupt(prompt))
            try:
                return parse_doctor_input(reply)
            except HumanInputError as exc:
                prompt = {**prompt, "text": f"{exc}; {DOCTOR_HELP}"}
        return AskPatient(question=reply or "...")


class HumanPatient:
    async def answer(self, question: str, history: list[tuple[str, str]]) -> PatientTurn:
        reply = str(
            interrupt({"role": "patient", "text": question, "help": "answer as the patient"})
        )
        return PatientTurn(reply.strip() or "...")


@doctor("human")
def human_doctor(request: RoleRequest, config: NoConfig) -> HumanDoctor:
    """A person at the terminal plays the doctor."""
    return HumanDoctor()


@patient("human")
def human_patient(request: RoleRequest, config: NoConfig) -> HumanPatient:
    """A person at the terminal plays the patient."""
    return HumanPatient()
