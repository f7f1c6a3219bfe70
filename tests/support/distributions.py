"""A package installed for one test: its metadata and modules in a folder put on `sys.path`,
found by `importlib.metadata` exactly as pip's would be."""

from __future__ import annotations

from pathlib import Path

import pytest


def install(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str] | None = None,
) -> None:
    """Install distribution `name` declaring `entry_points` (group -> name -> value), with
    `modules` (module name -> source) importable."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{point} = {value}" for point, value in points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(root))
