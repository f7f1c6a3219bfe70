"""The README's recipes work as written, and its test command is what CI runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from clinsim.scenarios.sets import find_scenario
from clinsim.tools import base
from clinsim.tools.base import ToolContext, registered_tools
from clinsim.tools.toolbox import ToolBox

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_add_a_tool_recipe_registers_a_working_tool() -> None:
    block = next(b for b in python_blocks() if "@register_tool" in b)
    exec(compile(block, "README.md", "exec"), {})
    try:
        check_recipe_tool()
    finally:
        base._TOOLS.pop("get_allergies", None)  # keep the registry as other tests expect it


def check_recipe_tool() -> None:
    assert "get_allergies" in registered_tools()
    scenario = find_scenario("agentclinic-medqa/0001")
    box = ToolBox(ToolContext(scenario.id, scenario.case))
    assert "get_allergies" in [s["function"]["name"] for s in box.specs()]
    outcome = asyncio.run(box.call("get_allergies", {}))
    assert outcome.error == "no allergy record for this patient"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


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
