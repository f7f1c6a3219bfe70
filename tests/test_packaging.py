"""The one-namespace layout: clinsim.* only, and a loud failure for bare imports."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
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
    """Code packages (folders with __init__.py) and the data folders that could be imported."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == {v: k for k, v in MAPPED.items()}
    found = set()
    for folder, package in MAPPED.items():
        for directory in [ROOT / folder, *(ROOT / folder).rglob("*")]:
            relative = directory.relative_to(ROOT / folder).parts
            code = (directory / "__init__.py").is_file()
            data = all(part.isidentifier() for part in relative) and "__pycache__" not in relative
            if directory.is_dir() and (code or data):
                found.add(".".join((package, *relative)))
    assert found == listed
    assert set(config["package-data"]) <= listed


@pytest.mark.slow
def test_building_is_quiet_and_the_wheel_holds_the_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Warning" not in output, output  # no licence-table or data-folder warnings
    (wheel,) = tmp_path.glob("clinsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in MAPPED.items():
        for path in (ROOT / folder).rglob("*"):
            parts = path.relative_to(ROOT / folder).parts
            # data/ folders and the bundled prompt templates; source/: the notes' build inputs
            inside = ("data" in parts or "bundled" in parts) and "source" not in parts
            if path.is_file() and inside and "__pycache__" not in path.parts:
                relative = path.relative_to(ROOT / folder).as_posix()
                assert f"{package.replace('.', '/')}/{relative}" in names, relative


def test_the_mapped_packages_import_under_the_namespace() -> None:
    import clinsim.agents
    import clinsim.environments
    import clinsim.scenarios
    import clinsim.tools

    assert Path(clinsim.tools.__file__).parent == ROOT / "tools"
    assert Path(clinsim.scenarios.__file__).parent == ROOT / "scenarios"
