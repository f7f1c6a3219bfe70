"""The baseline doctor: sees only the view, follows its plan, stays in budget, ranks by
similarity to its knowledge."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from players import player
from pydantic import create_model
from shared_data import shared

from clinsim.agents.doctors.baseline import BaselineDoctor, default_policy, image_ids
from clinsim.agents.doctors.knowledge import Case, DiagnosisRanker, load_cases
from clinsim.environments.actions import (
    CORE_ACTIONS,
    AskPatient,
    CallTool,
    OrderTest,
    SubmitDiagnosis,
)
from clinsim.environments.roles import DoctorView, Exchange
from clinsim.environments.tool_spec import ToolSpec
from clinsim.scenarios.model import AnswerKey, ImageRef, Scenario
from clinsim.scenarios.sets import load_report

ROOT = Path(__file__).resolve().parents[2]

RANKER = DiagnosisRanker(
    [
        Case(
            "Gout", "acute painful swollen red big toe joint after alcohol uric acid crystals", ""
        ),
        Case("Asthma", "episodic wheezing cough shortness of breath at night allergies", ""),
        Case("Migraine", "throbbing unilateral headache photophobia nausea aura", ""),
        Case("Appendicitis", "right lower quadrant abdominal pain fever vomiting", ""),
        Case("Psoriasis", "silvery scaly plaques on elbows and knees nail pitting", ""),
        Case("Anemia", "fatigue pallor low hemoglobin", ""),
    ]
)


def _spec(name: str, required: list[str]) -> ToolSpec:
    fields = {field: (str, ...) for field in required}
    arguments = create_model(f"{name}_arguments", **fields)  # type: ignore[call-overload]
    return ToolSpec(name=name, description=name, arguments=arguments)


def _view(history: list[Exchange], max_turns: int = 20, **kw: object) -> DoctorView:
    defaults: dict[str, object] = {
        "scenario_id": "s/1",
        "objective": "Evaluate the patient presenting with joint pain.",
        "tools": CORE_ACTIONS,
    }
    defaults.update(kw)
    return DoctorView(turn=len(history), max_turns=max_turns, history=tuple(history), **defaults)  # type: ignore[arg-type]


async def _play(doctor: BaselineDoctor, max_turns: int = 20, **kw: object) -> list[object]:
    """Drive the doctor with canned observations until it submits."""
    history: list[Exchange] = []
    while True:
        action = await doctor.act(_view(history, max_turns, **kw))
        if isinstance(action, SubmitDiagnosis):
            return [*(x.action for x in history), action]
        if isinstance(action, AskPatient):
            reply = "My big toe joint is red, swollen and very painful since a night of alcohol."
        elif isinstance(action, OrderTest) and "Skin" in action.test:
            reply = "not available"
        else:
            reply = f"result of {getattr(action, 'test', getattr(action, 'tool', ''))}"
        history.append(Exchange(action, reply))


def test_it_is_built_without_any_scenario() -> None:
    params = inspect.signature(BaselineDoctor).parameters
    assert set(params) == {"policy", "ranker"}
    scenario = load_report("agentclinic-medqa").scenarios[0]
    doctor = player("doctor", "baseline", scenario)
    assert isinstance(doctor, BaselineDoctor)
    held = [v for v in vars(doctor).values() if isinstance(v, Scenario | AnswerKey)]
    assert held == []


async def test_history_then_exams_then_targeted_then_panel_then_diagnosis() -> None:
    actions = await _play(BaselineDoctor(ranker=RANKER))
    policy = default_policy()
    asked = [a.question for a in actions if isinstance(a, AskPatient)]
    assert asked == list(policy.history)
    orders = [a.test for a in actions if isinstance(a, OrderTest)]
    assert orders[:2] == ["Vital signs", "Physical examination"]
    assert "Musculoskeletal examination" in orders  # targeted: the patient spoke of a joint
    assert orders[-5:] == list(policy.panel[2:])
    final = actions[-1]
    assert isinstance(final, SubmitDiagnosis)
    assert final.diagnosis == "Gout" and len(final.differential) == 4


async def test_calls_argument_free_tools_and_reads_each_visible_image() -> None:
    tools = (
        *CORE_ACTIONS,
        _spec("get_patient_summary", []),
        _spec("query_ehr", ["sql"]),
        _spec("read_image", ["image_id"]),
    )
    images = (ImageRef(id="image-1", shown_upfront=True),)
    objective = "Evaluate the patient. Images: image-1, image-2."
    actions = await _play(
        BaselineDoctor(ranker=RANKER), tools=tools, images=images, objective=objective
    )
    calls = [a for a in actions if isinstance(a, CallTool)]
    assert calls == [
        CallTool(tool="get_patient_summary"),
        CallTool(tool="read_image", arguments={"image_id": "image-1"}),
        CallTool(tool="read_image", arguments={"image_id": "image-2"}),
    ]


def test_image_ids_come_from_the_view_only() -> None:
    view = _view([], objective="See image-3.", images=(ImageRef(id="x-ray"),))
    assert image_ids(view) == ["x-ray", "image-3"]


@pytest.mark.parametrize("max_turns", [1, 2, 5, 12])
async def test_submits_by_the_last_turn(max_turns: int) -> None:
    actions = await _play(BaselineDoctor(ranker=RANKER), max_turns=max_turns)
    assert len(actions) == max_turns
    assert isinstance(actions[-1], SubmitDiagnosis)


async def test_deterministic() -> None:
    first = await _play(BaselineDoctor(ranker=RANKER))
    second = await _play(BaselineDoctor(ranker=RANKER))
    assert first == second


def test_ranking_prefers_the_closest_description() -> None:
    ranked = RANKER.rank("wheezing and cough at night, worse with allergies", top=3)
    assert ranked[0][0] == "Asthma"
    assert len(ranked) == 3 and ranked[0][1] > ranked[1][1]


def test_bundled_knowledge_has_attribution_and_no_scenario_answers_by_source() -> None:
    data = json.loads((ROOT / "agents" / "data" / "baseline_kb.json").read_text("utf-8"))
    sources = " ".join(data["sources"])
    assert "MedQA" in sources and "MIT" in sources and "ODbL" in sources
    assert data["excluded_as_scenario_sources"] > 0
    cases = load_cases()
    medqa = [c for c in cases if c.source.startswith("medqa-us-test:")]
    assert len(medqa) == data["diagnosis_questions"] - data["excluded_as_scenario_sources"]
    assert len(cases) == len(medqa) + data["scenario_cases"]
    assert all(c.source in c.hidden_from for c in cases if c not in medqa)
    readme = (ROOT / "agents" / "data" / "baseline_kb.md").read_text("utf-8")
    assert "Di Jin" in readme and "ODbL" in readme
    assert str(data["excluded_as_scenario_sources"]) in readme


def test_knowledge_file_rebuilds_identically(tmp_path: Path) -> None:
    medqa = shared("medqa/medqa_us_4options_test.jsonl")
    out = tmp_path / "kb.json"
    script = ROOT / "bench" / "build_baseline_kb.py"
    subprocess.run(
        [sys.executable, str(script), "--medqa", str(medqa), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (ROOT / "agents" / "data" / "baseline_kb.json").read_bytes()
