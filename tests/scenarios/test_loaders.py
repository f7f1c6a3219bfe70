"""Scenario loading: every AgentClinic record, drifting field types, clear per-record errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import agentclinic
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.model import Scenario
from clinsim.scenarios.sets import find_scenario, load_report, load_scenarios

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("agentclinic_medqa.jsonl", 107),
        ("agentclinic_medqa_extended.jsonl", 214),
        ("agentclinic_nejm.jsonl", 15),
        ("agentclinic_nejm_extended.jsonl", 120),
    ],
)
def test_every_agentclinic_record_loads(name: str, count: int) -> None:
    report = load_file(agentclinic(name))
    assert report.errors == []
    assert len(report.scenarios) == count


def test_bundled_sets_match_the_upstream_counts() -> None:
    assert len(load_report("agentclinic-medqa").scenarios) == 107
    assert len(load_report("agentclinic-medqa-ext").scenarios) == 214
    assert len(load_report("demo").scenarios) >= 5


def test_drifting_field_types_are_kept_not_dropped() -> None:
    scenarios = load_report("agentclinic-medqa-ext").scenarios
    ros_shapes = {type(s.case.patient.review_of_systems).__name__ for s in scenarios}
    assert {"str", "dict"} <= ros_shapes
    meds = [s for s in scenarios if isinstance(s.case.patient.medications, list)]
    assert meds, "Current_Medications lists must survive"
    kept_extra = [s for s in scenarios if "Management_and_Follow_Up" in s.case.extra]
    assert len(kept_extra) == 1


def test_osce_record_maps_every_section() -> None:
    s = find_scenario("agentclinic-medqa/0001")
    assert s.format == "osce"
    assert s.case.objective.startswith("Assess and diagnose")
    assert s.case.patient.demographics == "35-year-old female"
    assert s.case.exam["Vital_Signs"]["Heart_Rate"] == "72 bpm"  # type: ignore[index]
    assert "Acetylcholine_Receptor_Antibodies" in s.case.tests["Blood_Tests"]  # type: ignore[operator]
    assert s.answer.diagnosis == "Myasthenia gravis"
    assert s.provenance.record == 1 and s.provenance.license == "MIT"


def test_nejm_format_from_the_synthetic_fixture() -> None:
    report = load_file(DATA / "nejm_synthetic.jsonl")
    assert report.ok
    first = report.scenarios[0]
    assert first.format == "nejm"
    assert first.case.objective == "What is the most likely diagnosis?"
    assert first.answer.diagnosis == "Squamous cell carcinoma"
    assert len(first.answer.options) == 5
    assert first.case.tests["Inspection"].startswith("A 1.5-cm")  # type: ignore[union-attr]
    assert "Lymph node examination" in first.case.tests
    assert first.case.images[0].url == "https://example.org/images/case-a.jpg"
    assert first.case.images[0].modality == "dermatology"
    assert report.scenarios[2].case.tags == []


def test_the_answer_key_stays_out_of_repr() -> None:
    s = find_scenario("agentclinic-medqa/0001")
    assert "Myasthenia" not in repr(s) and "Myasthenia" not in str(s)


def test_broken_file_gives_one_line_per_bad_record() -> None:
    report = load_file(DATA / "broken_scenarios.jsonl")
    assert len(report.scenarios) == 1
    lines = {e.line for e in report.errors}
    assert lines == {2, 3, 4, 5, 6, 7}
    by_line = {e.line: e for e in report.errors}
    assert by_line[2].field == "OSCE_Examination.Objective_for_Doctor"
    assert "invalid JSON" in by_line[3].message
    assert "exactly one answer must be correct" in by_line[4].message


def test_validate_cli_reports_per_record_errors_and_fails() -> None:
    result = CliRunner().invoke(
        app, ["scenarios", "validate", str(DATA / "broken_scenarios.jsonl")]
    )
    assert result.exit_code == 1
    assert "broken_scenarios.jsonl:2: OSCE_Examination.Objective_for_Doctor: Field required" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_validate_cli_accepts_good_files() -> None:
    result = CliRunner().invoke(
        app, ["scenarios", "validate", "demo", str(DATA / "nejm_synthetic.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "3 valid scenarios, ok" in result.output


def test_unknown_source_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["scenarios", "validate", "no-such-set"])
    assert result.exit_code == 2
    assert "neither an installed set" in result.output


def test_schema_export_is_valid_json_schema_of_the_model() -> None:
    result = CliRunner().invoke(app, ["scenarios", "schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "Scenario"
    assert {"case", "answer", "provenance", "schema_version"} <= set(schema["properties"])


def test_native_format_round_trips(tmp_path: Path) -> None:
    from clinsim.scenarios.loader import write_scenarios

    scenarios = load_scenarios(["demo", "agentclinic-medqa"])[:20]
    out = tmp_path / "copy.jsonl"
    write_scenarios(scenarios, out)
    again = load_file(out).scenarios
    assert [s.model_dump() for s in again] == [s.model_dump() for s in scenarios]
    assert all(isinstance(s, Scenario) for s in again)


def test_show_hides_the_answer_unless_revealed() -> None:
    hidden = CliRunner().invoke(app, ["scenarios", "show", "agentclinic-medqa/0001", "--json"])
    assert "Myasthenia gravis" not in hidden.output
    shown = CliRunner().invoke(
        app, ["scenarios", "show", "agentclinic-medqa/0001", "--json", "--reveal"]
    )
    assert json.loads(shown.output)["answer"]["diagnosis"] == "Myasthenia gravis"
