"""The README's recipes work as written, and its test command is what CI runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from clinsim.plugins import Factory
from clinsim.scenarios.sets import find_scenario
from clinsim.tools.base import ToolContext
from clinsim.tools.toolbox import ToolBox

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_add_a_tool_recipe_makes_a_working_tool() -> None:
    block = next(b for b in python_blocks() if '@tool("get_allergies")' in b)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    made = namespace["get_allergies"]
    assert isinstance(made, Factory) and made.group == "clinsim.tools"
    scenario = find_scenario("agentclinic-medqa/0001")
    box = ToolBox(ToolContext(scenario.id, scenario.case), [made.build(None, made.configure())])
    assert "get_allergies" in [spec.name for spec in box.specs()]
    outcome = asyncio.run(box.call("get_allergies", {}))
    assert outcome.error == "no allergy record for this patient"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()
