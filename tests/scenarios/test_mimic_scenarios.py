"""MIMIC-derived scenarios: built from the demo EHR, bundled as `mimic-iv-demo`, playable."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from players import tool
from typer.testing import CliRunner

from clinsim.agents.models.base import ChatRequest, ChatResponse
from clinsim.cli import ehr_scenarios
from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.scenarios.mimic import MimicScenarioError, build_mimic_scenarios
from clinsim.scenarios.sets import load_report
from clinsim.tools.base import ToolContext


@pytest.fixture(scope="module")
def ehr_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ehr") / "demo.duckdb"
    build_from_mimic(demo_dir(), out, source="MIMIC-IV Clinical Database Demo v2.2 (ODbL)")
    return out


def test_scenarios_follow_the_admissions(ehr_db: Path) -> None:
    scenarios = build_mimic_scenarios(ehr_db, ehr_scenarios.DEMO_INFO)
    assert len(scenarios) > 200
    with duckdb.connect(str(ehr_db), read_only=True) as con:
        truth = {
            hadm: (subject, admit, title)
            for hadm, subject, admit, title in con.execute(
                "SELECT a.hadm_id, a.subject_id, a.admittime, t.long_title FROM admissions a "
                "JOIN diagnoses_icd d ON d.hadm_id = a.hadm_id AND d.seq_num = 1 "
                "JOIN d_icd_diagnoses t USING (icd_code, icd_version)"
            ).fetchall()
        }
    for scenario in scenarios:
        link = scenario.case.ehr
        assert link is not None and link.hadm_id is not None
        subject, admit, title = truth[link.hadm_id]
        assert (link.subject_id, link.index_time) == (subject, admit)
        assert scenario.answer.diagnosis == title
        assert scenario.format == "osce" and scenario.id == f"mimic-iv-demo/{link.hadm_id}"
        assert scenario.case.tests and scenario.case.patient.demographics
    assert sum(1 for s in scenarios if s.case.exam) > len(scenarios) // 2


def test_bundled_set_is_what_the_command_builds(ehr_db: Path) -> None:
    bundled = load_report("mimic-iv-demo")
    assert bundled.ok
    fresh = build_mimic_scenarios(ehr_db, ehr_scenarios.DEMO_INFO)
    assert [s.model_dump() for s in bundled.scenarios] == [s.model_dump() for s in fresh]
    assert bundled.scenarios[0].provenance.license == "ODbL-1.0"


def test_writer_phrases_the_story(ehr_db: Path) -> None:
    scenarios = build_mimic_scenarios(ehr_db, limit=2, phrase=lambda text: f"PHRASED: {text}")
    assert len(scenarios) == 2
    assert all(str(s.case.patient.history).startswith("PHRASED: A ") for s in scenarios)


def test_not_an_ehr_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MimicScenarioError, match="no such EHR database"):
        build_mimic_scenarios(tmp_path / "none.duckdb")
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(MimicScenarioError, match="not a clinsim EHR database"):
        build_mimic_scenarios(tmp_path / "empty.duckdb")


class EchoModel:
    address = "hf/echo"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return ChatResponse(text="I was in hospital before. " + request.messages[-1].content[:20])


def test_build_mimic_command_with_a_local_writer(
    ehr_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ehr_scenarios, "load_model", lambda address, settings: EchoModel())
    app = ehr_scenarios.typer.Typer()
    app.command()(ehr_scenarios.build_mimic_command)
    out = tmp_path / "s.jsonl"
    args = ["--ehr", str(ehr_db), "--out", str(out), "--limit", "3", "--writer", "hf/echo"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = load_report(str(out))
    assert len(report.scenarios) == 3
    assert str(report.scenarios[0].case.patient.history).startswith("I was in hospital before.")
    remote = CliRunner().invoke(
        app,
        [*args[:4], "--writer", "openai/m", "--base-url", "https://api.example.com/v1"],
    )
    assert remote.exit_code == 2 and "remote" in remote.output


async def test_bundled_scenarios_are_playable_with_the_ehr_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clinsim.environments.ehr.demo import default_ehr_for

    monkeypatch.setenv("CLINSIM_CACHE", str(tmp_path))
    summarise = tool("get_patient_summary")  # no --ehr: the demo set's own database
    for scenario in load_report("mimic-iv-demo").scenarios[:3]:
        assert default_ehr_for(scenario) is not None
        ctx = ToolContext(scenario.id, scenario.case, source=scenario.provenance.source)
        summary = await summarise.call({}, ctx)
        assert "(current admission)" in summary.text
        assert scenario.answer.diagnosis not in summary.text
