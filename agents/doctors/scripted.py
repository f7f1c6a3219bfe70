"""The scripted doctor: plays a fixed list of actions, e.g. from a JSON file.

File format (`--doctor scripted/PATH`): a JSON list of actions, or an object
`{"actions": [...], "repeat": false}`; each action is one of
`{"kind": "ask_patient", "question": ...}`, `{"kind": "order_test", "test": ...}`,
`{"kind": "call_tool", "tool": ..., "arguments": {...}}`,
`{"kind": "submit_diagnosis", "diagnosis": ..., "differential": [...]}`.
With `"repeat": true` the list starts over when it runs out (a doctor that never diagnoses).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from clinsim.environments.actions import ACTION_ADAPTER, Action
from clinsim.environments.factories import RoleRequest, doctor
from clinsim.environments.roles import DoctorView, RoleFailure
from clinsim.environments.termination import TerminationReason
from clinsim.plugins import NoConfig


class ScriptError(ValueError):
    pass


class ScriptedDoctor:
    def __init__(self, actions: list[Action], repeat: bool = False):
        if repeat and not actions:
            raise ScriptError("a repeating script needs at least one action")
        self.actions = actions
        self.repeat = repeat

    async def act(self, view: DoctorView) -> Action:
        index = view.turn
        if self.repeat:
            index %= len(self.actions)
        if index >= len(self.actions):
            detail = f"script exhausted after {len(self.actions)} actions"
            raise RoleFailure(TerminationReason.PROTOCOL_ERROR, detail)
        return self.actions[index]


def load_script(path: str | Path) -> ScriptedDoctor:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such script file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ScriptError(f"{path}: not a JSON script: {exc}") from None
    repeat = False
    if isinstance(raw, dict):
        repeat = bool(raw.get("repeat", False))
        raw = raw.get("actions")
    if not isinstance(raw, list):
        raise ScriptError(f"{path}: expected a list of actions or {{'actions': [...]}}")
    actions = []
    for number, item in enumerate(raw):
        try:
            actions.append(ACTION_ADAPTER.validate_python(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ScriptError(f"{path}: actions[{number}].{field}: {first['msg']}") from None
    return ScriptedDoctor(actions, repeat)


@doctor("scripted")
def scripted(request: RoleRequest, config: NoConfig) -> ScriptedDoctor:
    """`scripted/PATH`: plays the JSON list of actions in PATH."""
    if not request.name:
        raise ScriptError("the scripted doctor needs a script: --doctor scripted/PATH")
    return load_script(request.name)
