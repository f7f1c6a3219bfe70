"""The one-namespace layout: clinsim.* only, and a loud failure for bare imports."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {
    "agents": "clinsim.agents",
    "environments": "clinsim.environments",
    "tools": "clinsim.tools",
    "scenarios": "clinsim.scenarios",
    "clinsim": "clinsim",
}


@pytest.mark.parametrize("folder", ["tools", "agents", "environments", "scenarios"])
def test_bare_import_from_the_repo_root_fails_loudly(folder: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {folder}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"import clinsim.{folder} instead" in result.stderr


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == {v: k for k, v in MAPPED.items()}
    found = set()
    for folder, package in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == listed


def test_the_mapped_packages_import_under_the_namespace() -> None:
    import clinsim.agents
    import clinsim.environments
    import clinsim.scenarios
    import clinsim.tools

    assert Path(clinsim.tools.__file__).parent == ROOT / "tools"
    assert Path(clinsim.scenarios.__file__).parent == ROOT / "scenarios"
