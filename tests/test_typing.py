"""mypy --strict sees what the registries hand out: a doctor factory builds a `Doctor`, a tool
factory a tool, a backend factory a `ChatModel`; nothing comes out of a registry as `Any`.

The check type-checks a small module against the package (laid out as scripts/typecheck.sh lays
it out): each wrong assignment below is an error only because the type is known. Were any of
them `Any`, mypy would accept it and the test would fail. The example plugin type-checks
strictly against the same API (its doctor factory must build a `Doctor`, and so on).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "clinsim-example-plugin" / "src" / "clinsim_example"
CHECKED = """
from clinsim.agents.factories import DOCTORS, JUDGES, AgentRequest, find_factory
from clinsim.agents.models.registry import BACKENDS
from clinsim.scenarios.sets import SCENARIO_SETS
from clinsim.tools.base import TOOLS


def typed(request: AgentRequest) -> None:
    made = find_factory(DOCTORS, "oracle")
    doctor = made.build(request, made.configure())
    reveal_type(doctor)
    wrong_doctor: int = doctor
    judge = find_factory(JUDGES, "rules").build(request, JUDGES.get("rules").configure())
    wrong_judge: int = judge
    tool = TOOLS.get("query_ehr").build(None, TOOLS.get("query_ehr").configure())
    wrong_tool: int = tool
    model = BACKENDS.get("openai").build("medgemma", BACKENDS.get("openai").configure())
    wrong_model: int = model
    wrong_set: int = SCENARIO_SETS.get("demo")
"""
EXPECTED = [
    'Revealed type is "clinsim.environments.roles.Doctor"',
    'expression has type "Doctor", variable has type "int"',
    'expression has type "Judge", variable has type "int"',
    'expression has type "BaseTool", variable has type "int"',
    'expression has type "ChatModel", variable has type "int"',
    'expression has type "ScenarioSet", variable has type "int"',
]


@pytest.mark.slow
def test_mypy_sees_the_types_the_registries_hand_out(tmp_path: Path) -> None:
    mypy = Path(sys.executable).with_name("mypy")
    package = tmp_path / "clinsim"
    package.mkdir()
    for entry in (ROOT / "clinsim").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("agents", "environments", "tools", "scenarios"):
        (package / folder).symlink_to(ROOT / folder)
    (tmp_path / "registry_types.py").write_text(CHECKED)
    config = [
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
    ]
    result = subprocess.run(
        [str(mypy), *config, "registry_types.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(tmp_path)},
    )
    plugin = subprocess.run(  # a plugin type-checks against the same API, strictly
        [str(mypy), *config, "--strict", str(PLUGIN)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(tmp_path)},
    )
    shutil.rmtree(package)
    assert plugin.returncode == 0, plugin.stdout
    for message in EXPECTED:
        assert message in result.stdout, result.stdout
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == len(EXPECTED) - 1, result.stdout  # the reveal_type line is a note
