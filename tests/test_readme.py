"""The README's recipes work as written, and its test command is what CI runs."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import sys
import types
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.run_store import RunStore
from clinsim.plugins import Factory
from clinsim.scenarios.model import Case
from clinsim.scenarios.sets import find_scenario
from clinsim.tools.base import ToolContext
from clinsim.tools.toolbox import ToolBox

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_tool_recipe_makes_a_working_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    block = next(b for b in python_blocks() if '@tool("read_vitals"' in b)
    module = types.ModuleType("readme_tool")  # pydantic resolves annotations in the module
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, "README.md", "exec"), module.__dict__)
    made = module.read_vitals
    assert isinstance(made, Factory) and made.group == "clinsim.tools"
    scenario = find_scenario("demo/0001")
    tools = [made.build(None, made.configure({"high_systolic": 120}))]
    box = ToolBox(ToolContext(scenario.id, scenario.case), tools)
    assert "read_vitals" in [spec.name for spec in box.specs()]
    outcome = asyncio.run(box.call("read_vitals", {"sign": "blood_pressure"}))
    assert outcome.text == "Blood pressure: 128/76 mmHg\nBlood pressure is high (systolic >= 120)."
    refused = asyncio.run(box.call("read_vitals", {"sign": "mood"}))
    assert refused.error is not None and refused.error.startswith(
        "invalid arguments for read_vitals"
    )
    no_vitals = Case(objective="A case whose examination records no vital signs.")
    assert ToolBox(ToolContext("x/1", no_vitals), tools).specs() == []  # not offered


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


PLUGIN = ROOT / "examples" / "clinsim-example-plugin"


def test_the_plugin_recipes_show_the_example_plugins_own_code() -> None:
    sources = {path.name: path.read_text() for path in PLUGIN.rglob("*.py")}
    sources["pyproject.toml"] = (PLUGIN / "pyproject.toml").read_text()
    shown = [b for b in python_blocks() if "clinsim_example" in b or "example-vitals" in b]
    shown += [b for b in python_blocks() if "canned_backend" in b or "vitals_doctor" in b]
    plugin = README[README.index("### Write a plugin") : README.index("### Add a scenario set")]
    shown += re.findall(r"```toml\n(.*?)```", plugin, flags=re.S)
    assert len(shown) >= 4
    for block in shown:
        assert any(block in source for source in sources.values()), block[:80]


def test_the_write_a_plugin_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README[README.index("### Write a plugin") :]
    commands = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].strip().splitlines()
    assert commands[0] == "pip install -e examples/clinsim-example-plugin"  # `make test` runs it
    assert version("clinsim-example-plugin")
    monkeypatch.chdir(tmp_path)  # the run is stored under ./runs
    for command in commands[1:]:
        words = shlex.split(command)
        assert words[0] == "clinsim"
        result = CliRunner().invoke(app, words[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert [r.correct for r in RunStore(run_dir).episodes()] == [True, True, True]


def test_the_statistics_recipe_prints_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = next(b for b in python_blocks() if "render_report" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    for line in printed:
        assert f"`{line}`" in " ".join(README.split()), line
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Paired comparison" in html


def test_the_resume_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README[README.index("### What a run stores") :]
    commands = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    for command in commands:
        words = shlex.split(command.split("#")[0])
        assert words[0] == "clinsim"
        result = CliRunner().invoke(app, words[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert len(RunStore(tmp_path / "runs" / "medqa").episodes()) == 20


EXPERIMENTS = ROOT / "examples" / "experiments"


def test_the_research_workflow_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recipe from an experiment file to a report: its file is the example's, each command
    runs as written, and what it says it finds is what the runs hold."""
    section = README[README.index("### From an experiment file to a report") :]
    section = section[: section.index("### Statistics and a report")]
    (toml,) = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    assert toml in (EXPERIMENTS / "presentation-budget.toml").read_text()
    (tmp_path / "examples").mkdir()
    shutil.copytree(EXPERIMENTS, tmp_path / "examples" / "experiments")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    outputs = {}
    for command in [line for block in blocks for line in block.strip().splitlines()]:
        words = shlex.split(command)
        assert words[0] == "clinsim"
        result = CliRunner().invoke(app, words[1:], env={"COLUMNS": "120"})
        assert result.exit_code == 0, f"{command}\n{result.output}"
        outputs[" ".join(words[1:3])] = result.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Accuracy against mean cost" in html  # budgets vary: the frontier is drawn
    assert sorted(p.name for p in (tmp_path / "exports" / "demo-dialogue").iterdir()) == [
        "episodes.parquet",
        "events.parquet",
    ]
    assert "McNemar p (exact)" in outputs["compare runs/demo-dialogue"]
    assert "pass^3" in outputs["show runs/demo-dialogue"]
    query = outputs["experiment query"]
    rows = [
        line.split() for line in query.splitlines() if line.strip().startswith(("dialo", "vign"))
    ]
    assert rows == [
        ["dialogue", "300", "24", "0.0", "426.7"],
        ["dialogue", "none", "24", "0.583", "948.8"],
        ["vignette", "300", "24", "0.583", "0.0"],
        ["vignette", "none", "24", "0.583", "0.0"],
    ]
    said = " ".join(section.split())
    assert "58.3% (14 of 24 episodes)" in said and "$948.75 of tests an episode" in said
    dialogue = RunStore(
        tmp_path
        / "experiments"
        / "presentation-budget"
        / "cells"
        / "presentation=dialogue,budget=none"
    )
    assert sum(r.cost for r in dialogue.episodes()) / 24 == 948.75
