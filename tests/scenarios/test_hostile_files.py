"""Hostile scenario files: deep nesting, over-long numbers, lone surrogates.

Each bad record is one error naming file, line and field; the good records of the same file
still load, and nothing crashes `scenarios validate` or `run`. `run` plays the good records,
keeps the skipped ones with the run (its denominator is on record) and exits non-zero.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.images import ImageMappingError, read_mapping
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.sets import load_report

GOOD = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "agentclinic_medqa.jsonl"


def _good_records(n: int) -> list[str]:
    return GOOD.read_text(encoding="utf-8").splitlines()[:n]


def _with_history(text: str) -> str:
    record = json.loads(_good_records(1)[0])
    record["OSCE_Examination"]["Patient_Actor"]["History"] = text
    return json.dumps(record)  # ensure_ascii: the surrogate is written as the escape \ud800


HOSTILE = {
    "deep": ("[" * 100_000 + "]" * 100_000, "", "nested too deeply"),
    "long number": ('{"OSCE_Examination": {"x": ' + "9" * 5000 + "}}", "", "digits"),
    "surrogate value": (
        _with_history("pain \ud800 here"),
        "OSCE_Examination.Patient_Actor.History",
        "lone surrogate",
    ),
    "surrogate key": ('{"OSCE_Examination": {"\\udc80": 1}}', "OSCE_Examination.\udc80", "lone"),
}


def _file_with(tmp_path: Path, bad: str) -> Path:
    good = _good_records(7)
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join([*good[:3], bad, *good[3:]]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_record_is_one_error_and_the_good_ones_load(tmp_path: Path, name: str) -> None:
    bad, field, message = HOSTILE[name]
    path = _file_with(tmp_path, bad)
    report = load_file(path)
    assert len(report.scenarios) == 7
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.file, error.line, error.field) == (str(path), 4, field)
    assert message in error.message


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_validate_and_run_name_the_record_without_a_traceback(tmp_path: Path, name: str) -> None:
    path = _file_with(tmp_path, HOSTILE[name][0])
    cli = CliRunner()
    checked = cli.invoke(app, ["scenarios", "validate", str(path)])
    assert checked.exit_code == 1
    assert f"{path}:4: " in checked.output and "7 valid scenarios" in checked.output
    ran = cli.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert ran.exit_code == 1
    assert f"skipped: {path}:4: " in ran.output
    assert "1 scenario record(s) could not be read and were skipped" in ran.output
    assert ran.exception is None or isinstance(ran.exception, SystemExit)
    store = RunStore(tmp_path / "r")
    assert len(store.episodes()) == 7  # every good record ran
    skipped = store.run_info().skipped
    field = HOSTILE[name][1].encode("utf-8", "backslashreplace").decode()
    assert [(s.file, s.line, s.field) for s in skipped] == [(str(path), 4, field)]
    shown = cli.invoke(app, ["show", str(tmp_path / "r")])
    assert shown.exit_code == 0 and "1 scenario record skipped" in shown.output
    resumed = cli.invoke(app, ["run", str(path), "--resume", "--out", str(tmp_path / "r")])
    assert resumed.exit_code == 1 and len(store.episodes()) == 7


def test_a_file_without_one_readable_record_runs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(HOSTILE["deep"][0] + "\n" + HOSTILE["long number"][0] + "\n")
    ran = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert ran.exit_code == 2
    assert f"{path}:1: " in ran.output and f"{path}:2: " in ran.output
    assert not (tmp_path / "r").exists()


def test_a_json_image_map_with_hostile_json_is_a_mapping_error(tmp_path: Path) -> None:
    for text in ("[" * 100_000, '{"a": ' + "1" * 5000 + "}"):
        mapping = tmp_path / "map.json"
        mapping.write_text(text, encoding="utf-8")
        with pytest.raises(ImageMappingError, match="invalid JSON"):
            read_mapping(mapping)


def test_an_episode_that_cannot_be_stored_loses_no_other(tmp_path: Path) -> None:
    scenarios = load_report("agentclinic-medqa").scenarios[:8]
    answer = scenarios[1].answer.model_copy(update={"diagnosis": "Myasthenia \ud800"})
    scenarios[1] = scenarios[1].model_copy(update={"answer": answer})  # the oracle submits it
    store = RunStore(tmp_path / "r")
    store.create("r", {})
    runner = Runner(resolve(RunConfig(doctor="oracle")), store, "r")
    records = asyncio.run(runner.run(scenarios))
    assert len(records) == 7
    assert len(store.episodes()) == 7
    assert len(runner.write_errors) == 1 and "surrogate" in runner.write_errors[0]
