"""The layers import downwards only:

    clinsim (the package itself) and clinsim.plugins
      <- clinsim.scenarios <- clinsim.environments <- clinsim.tools <- clinsim.agents
      <- the rest of clinsim (CLI, runner, components, replay, rendering)

Every import in every source file counts, those inside functions too. The checker is shown to
catch an upward import in a small source tree of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "clinsim": "clinsim",
    "scenarios": "clinsim.scenarios",
    "environments": "clinsim.environments",
    "tools": "clinsim.tools",
    "agents": "clinsim.agents",
}
LAYERS = [
    ("clinsim.plugins", 0),
    ("clinsim.scenarios", 1),
    ("clinsim.environments", 2),
    ("clinsim.tools", 3),
    ("clinsim.agents", 4),
]
NAMES = ["foundation", "scenarios", "environments", "tools", "agents", "app"]


def layer(module: str) -> int | None:
    """The layer of a clinsim module; None for anything else."""
    if module == "clinsim":
        return 0
    for prefix, number in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return number
    return 5 if module.startswith("clinsim.") else None


def module_name(root: Path, path: Path) -> str:
    folder, *rest = path.relative_to(root).with_suffix("").parts
    parts = [FOLDERS[folder], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(root: Path, name: str) -> bool:
    """Whether `clinsim.<name>` is a module or package (not an attribute such as __version__)."""
    return name in FOLDERS or any(
        (root / "clinsim" / candidate).exists() for candidate in (name, f"{name}.py")
    )


def imported(root: Path, tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in a module's tree, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            if base == "clinsim":  # `from clinsim import agents` names a subpackage
                names = [alias.name for alias in node.names if is_module(root, alias.name)]
                found += [(node.lineno, f"clinsim.{name}") for name in names]
    return found


def violations(root: Path) -> list[str]:
    """`file:line: <module> (layer) imports <module> (higher layer)` for each upward import."""
    problems = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            module = module_name(root, path)
            own = layer(module)
            assert own is not None
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, target in imported(root, tree, module, path.name == "__init__.py"):
                other = layer(target)
                if other is not None and other > own:
                    where = f"{path.relative_to(root)}:{line}"
                    problems.append(
                        f"{where}: {module} ({NAMES[own]}) imports {target} ({NAMES[other]})"
                    )
    return problems


def test_the_source_imports_downwards_only() -> None:
    assert violations(ROOT) == []


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from clinsim.agents.llm import doctor\n", "imports clinsim.agents.llm (agents)"),
        ("def later():\n    import clinsim.runner\n", "imports clinsim.runner (app)"),
        ("from clinsim import tools\n", "imports clinsim.tools (tools)"),
        ("from ..tools import base\n", "imports clinsim.tools (tools)"),
        ("from clinsim.cli.run import run\n", "imports clinsim.cli.run (app)"),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, source: str, expected: str) -> None:
    write(
        tmp_path,
        {
            "clinsim/__init__.py": "",
            "clinsim/plugins.py": "import json\n",
            "scenarios/__init__.py": "",
            "tools/__init__.py": "from clinsim.environments import roles\n",
            "agents/__init__.py": "",
            "environments/__init__.py": "",
            "environments/roles.py": "from clinsim.scenarios import model\nfrom clinsim import plugins\n",
            "environments/bad.py": source,
        },
    )
    [problem] = violations(tmp_path)  # the well-layered files pass
    assert problem.startswith("environments/bad.py:")
    assert problem.endswith(f"clinsim.environments.bad (environments) {expected}")
