"""The worked plugin (examples/clinsim-example-plugin): a package of its own that adds a doctor,
a tool, a judge, a model backend and a scenario set through its own entry points only. `make
test` installs it; `clinsim plugins` lists it and `clinsim run` plays it."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.events import (
    DiagnosisJudged,
    PatientAnswered,
    ToolCalled,
    ToolReturned,
)
from clinsim.environments.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "clinsim-example-plugin"
ADDS = {
    ("clinsim.doctors", "vitals"),
    ("clinsim.tools", "read_vitals"),
    ("clinsim.judges", "exact"),
    ("clinsim.models", "canned"),
    ("clinsim.scenario_sets", "example-vitals"),
}
cli = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    try:
        version(PLUGIN)
    except PackageNotFoundError:
        pytest.fail(f"{PLUGIN} is not installed: pip install -e examples/{PLUGIN} (make test does)")


def test_clinsim_plugins_lists_what_it_adds() -> None:
    result = cli.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    ours = {(row["group"], row["name"]): row for row in rows if row["package"] == PLUGIN}
    assert set(ours) == ADDS
    assert "high_systolic: int = 140" in ours[("clinsim.tools", "read_vitals")]["settings"]
    assert 'reply: str = "I\'m not sure."' in ours[("clinsim.models", "canned")]["settings"]


def play(out: Path, *extra: str) -> RunStore:
    args = ["run", "example-vitals", "--doctor", "vitals", "--judge", "exact", "--judge", "rules"]
    args += ["--patient", "canned/any", "--model-option", "patient.reply=Headaches, mostly."]
    result = cli.invoke(app, [*args, *extra, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return RunStore(out)


def test_clinsim_run_plays_it_and_the_doctor_calls_the_plugin_tool(tmp_path: Path) -> None:
    store = play(tmp_path / "r", "--tool", "read_vitals")
    records = store.episodes()
    assert [r.correct for r in records] == [True, True, True]
    for record in records:
        events = store.events(record.episode_id)
        called = [e for e in events if isinstance(e, ToolCalled)]
        assert [(e.tool, e.arguments) for e in called] == [
            ("read_vitals", {"sign": "blood_pressure"})
        ]
        returned = next(e for e in events if isinstance(e, ToolReturned))
        assert returned.error is None and returned.result.startswith("Blood pressure: ")
        answered = next(e for e in events if isinstance(e, PatientAnswered))
        assert answered.answer == "Headaches, mostly."  # the plugin backend played the patient
        judges = [e.judge for e in events if isinstance(e, DiagnosisJudged)]
        assert judges == ["exact", "rules"]
    components = store.run_info().config["components"]
    assert components["doctor"]["package"] == PLUGIN
    assert components["tools"]["read_vitals"]["package"] == PLUGIN
    assert components["patient"]["model"]["config"] == {"reply": "Headaches, mostly."}


def test_its_tool_takes_its_settings_and_is_offered_only_when_chosen(tmp_path: Path) -> None:
    strict = play(
        tmp_path / "strict",
        "--tool",
        "read_vitals",
        "--tool-option",
        "read_vitals.high_systolic=160",
    )
    assert [r.diagnosis for r in strict.episodes()] == [
        "Essential hypertension",  # 168/102
        "Viral upper respiratory infection",
        "Viral upper respiratory infection",  # 152/94 is below 160
    ]
    without = play(tmp_path / "without")  # not chosen: the doctor is never offered it
    for record in without.episodes():
        assert not any(isinstance(e, ToolCalled) for e in without.events(record.episode_id))


def test_adding_it_touched_no_file_of_clinsim() -> None:
    names = ("clinsim_example", PLUGIN, "example-vitals", "read_vitals", "vitals_doctor")
    sources = [ROOT / "pyproject.toml"]
    for folder in ("clinsim", "agents", "environments", "tools", "scenarios"):
        sources += (ROOT / folder).rglob("*.py")
    mentions = [str(path) for path in sources for name in names if name in path.read_text()]
    assert mentions == []
