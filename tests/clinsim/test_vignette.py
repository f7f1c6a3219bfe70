"""`--presentation vignette`: the whole case at once, one turn, a diagnosis or nothing."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from llm_fakes import FakeModel
from typer.testing import CliRunner

from clinsim.agents.llm.doctor import LLMDoctor
from clinsim.agents.llm.doctor_prompts import doctor_messages
from clinsim.cli.main import app
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.actions import Action, AskPatient, SubmitDiagnosis
from clinsim.environments.graph import run_encounter
from clinsim.environments.roles import DoctorView
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.audit import doctor_visible_text
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import find_scenario, load_scenarios
from clinsim.scenarios.vignette import case_vignette, label

cli = CliRunner()


class Recorder:
    def __init__(self, action: Action):
        self.action = action
        self.views: list[DoctorView] = []

    async def act(self, view: DoctorView) -> Action:
        self.views.append(view)
        return self.action


def play(tmp_path: Path, scenario_id: str, doctor: Recorder) -> list[object]:
    runner = Runner(resolve(RunConfig(presentation="vignette")), RunStore(tmp_path), "v")
    scenario = find_scenario(scenario_id)
    parts = runner.parts(scenario, scenario.id, 0)
    parts.doctor = doctor
    return list(asyncio.run(run_encounter(parts)))


def flat(text: str) -> str:
    return " ".join(text.split())


def value_at(scenario: Scenario, path: str) -> object:
    """The case's value at an audit path ('case.tests.Imaging', 'case.images[0].caption')."""
    value: object = scenario.case.model_dump()
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.removeprefix("case.")):
        key: int | str = int(part[1:-1]) if part.startswith("[") else part
        value = value[key]  # type: ignore[index]
    return value


def test_the_vignette_holds_every_text_of_the_case() -> None:
    for scenario in load_scenarios(["demo", "agentclinic-medqa", "images"]):
        vignette = flat(case_vignette(scenario.case))
        for path, text in doctor_visible_text(scenario):
            if path.endswith("#key"):
                if value_at(scenario, path.removesuffix("#key")) in ({}, [], "", None):
                    continue  # an empty entry says nothing: the vignette leaves it out
                text = label(text)
            assert flat(text) in vignette, (scenario.id, path)
    assert label("Primary_Symptom") == "Primary symptom" and label("Chest_X-Ray") == "Chest X-Ray"


def test_one_turn_only_the_diagnosis_offered_images_up_front(tmp_path: Path) -> None:
    doctor = Recorder(SubmitDiagnosis(diagnosis="Pneumonia"))
    events = play(tmp_path, "images/cxr-covid-01", doctor)
    (view,) = doctor.views
    assert view.vignette is not None and view.max_turns == 1 and view.turns_left == 1
    assert [spec.name for spec in view.tools] == ["submit_diagnosis"]
    assert [image.id for image in view.images] == ["image-1"]
    kinds = [e.kind for e in events]  # type: ignore[attr-defined]
    assert kinds[:2] == ["episode_started", "image_shown"]
    assert events[0].max_turns == 1  # type: ignore[attr-defined]
    assert events[-1].reason == "diagnosed"  # type: ignore[attr-defined]


def test_a_doctor_that_does_not_diagnose_learns_nothing_more(tmp_path: Path) -> None:
    events = play(tmp_path, "demo/0001", Recorder(AskPatient(question="Any fever?")))
    kinds = [e.kind for e in events]  # type: ignore[attr-defined]
    assert "question_asked" not in kinds and "patient_answered" not in kinds
    ended = events[-1]
    assert ended.reason == "turn_limit" and "not a diagnosis" in ended.detail  # type: ignore[attr-defined]


def test_an_llm_doctor_is_given_the_vignette_and_asked_for_a_diagnosis(tmp_path: Path) -> None:
    scenario = find_scenario("agentclinic-medqa/0001")
    vignette = case_vignette(scenario.case)
    view = DoctorView(
        scenario_id=scenario.id,
        objective=scenario.case.objective,
        turn=0,
        max_turns=1,
        tools=(),
        vignette=vignette,
    )
    for protocol in ("json", "tools", "agentclinic"):
        system, opening = doctor_messages(view, protocol, None, {})  # type: ignore[arg-type]
        assert "give the most likely diagnosis now" in system.content
        assert "ask_patient" not in system.content and "REQUEST TEST" not in system.content
        assert vignette in opening.content and "last turn" in opening.content
    reply = json.dumps({"action": "submit_diagnosis", "diagnosis": "Myasthenia gravis"})
    doctor = LLMDoctor(FakeModel(reply))
    doctor_player = Recorder(SubmitDiagnosis(diagnosis="x"))
    doctor_player.act = doctor.act  # type: ignore[method-assign]
    events = play(tmp_path, "agentclinic-medqa/0001", doctor_player)
    assert events[-1].reason == "diagnosed"  # type: ignore[attr-defined]


def test_run_and_show_name_the_presentation(tmp_path: Path) -> None:
    out = tmp_path / "v"
    result = cli.invoke(app, ["run", "demo", "--presentation", "vignette", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = RunStore(out).episodes()
    assert {r.turns for r in records} == {1} and all(r.tests == 0 for r in records)
    assert {r.termination for r in records} == {"diagnosed"}
    assert "Expected accuracy" not in result.output  # the baseline figures are for dialogues
    shown = cli.invoke(app, ["show", str(out)], env={"COLUMNS": "200"})
    assert "presentation=vignette" in shown.output
    bad = cli.invoke(app, ["run", "--presentation", "poster"])
    assert bad.exit_code == 2 and "poster" in bad.output
