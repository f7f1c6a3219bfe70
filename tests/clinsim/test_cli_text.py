"""What the CLI prints for a person: help, tables at 80 columns, scenario listings, counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from clinsim.baseline_reference import BASELINE_TOP1
from clinsim.cli.main import COMMANDS, LazyCommands, app
from clinsim.environments.run_store import RunStore

cli = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under a click/typer group."""
    found = [path]
    for name, sub in getattr(group, "commands", {}).items():
        found += commands(sub, (*path, name))
    return found


def every_command() -> Any:
    """The top-level group with every command loaded."""
    root = typer.main.get_command(app)
    assert isinstance(root, LazyCommands)
    for name in COMMANDS:
        root.load(name)
    return root


def test_help_names_arguments_plainly_and_gives_flags_no_type() -> None:
    every = commands(every_command())
    assert ("show",) in every and ("scenarios", "validate") in every
    for path in every:
        result = cli.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
        usage = next(line for line in result.output.splitlines() if "Usage:" in line)
        assert "{" not in usage, (path, usage)
    show = cli.invoke(app, ["show", "--help"], env={"COLUMNS": "100"}).output
    assert "Usage: clinsim show [OPTIONS] RUN" in show


def test_the_command_list_shows_each_commands_own_summary() -> None:
    root = every_command()
    for name, lazy in COMMANDS.items():
        help_text = root.commands[name].help or ""
        first_paragraph = " ".join(help_text.split("\n\n")[0].split())
        assert lazy.summary == first_paragraph, name
    listing = cli.invoke(app, ["--help"], env={"COLUMNS": "100"}).output
    for name in COMMANDS:
        assert f"\u2502 {name} " in listing, name


def test_help_loads_no_command_and_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from clinsim.cli.main import app; "
        "out = CliRunner().invoke(app, sys.argv[1:]); assert out.exit_code == 0, out.output; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('clinsim.cli.')))); "
        "print(' '.join(m for m in ('pydantic', 'langgraph', 'duckdb', 'numpy') "
        "if m in sys.modules))"
    )
    listing = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, check=True
    )
    assert listing.stdout.splitlines() == ["clinsim.cli.main", ""]
    image = subprocess.run(
        [sys.executable, "-c", code, "image", "--help"], capture_output=True, text=True, check=True
    )
    loaded = image.stdout.splitlines()[0].split()
    assert "clinsim.cli.image" in loaded
    assert not {"clinsim.cli.run", "clinsim.cli.ehr", "clinsim.cli.judge"} & set(loaded)


def test_at_80_columns_diagnoses_wrap_whole_and_cost_has_its_unit(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = cli.invoke(app, ["run", "--out", str(out)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # the last two lines (paths and a command to copy) are left to the terminal to wrap
    assert max(len(line) for line in lines[:-2]) <= 80
    text = " ".join(line.strip() for line in lines)
    for record in RunStore(out).episodes():
        assert record.diagnosis is not None
        for name in (record.diagnosis, record.reference):
            assert " ".join(name.split()) in " ".join(text.split()), name
    assert "…" not in result.output
    assert "cost USD" in result.output and "mean cost (USD)" in result.output
    assert f"Show it again: clinsim show {out}" in lines[-1]  # the command on one line


def test_the_default_run_says_what_the_baseline_is_and_what_to_expect(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = cli.invoke(app, ["run", "--out", str(out)], env={"COLUMNS": "200"})
    assert "non-LLM reference policy" in result.output
    right, n = BASELINE_TOP1["demo"]
    assert f"demo {right / n:.1%} ({right}/{n})" in result.output
    records = RunStore(out).episodes()
    assert (sum(r.correct for r in records), len(records)) == (right, n)  # the figure still holds
    oracle = cli.invoke(app, ["run", "--doctor", "oracle", "--out", str(tmp_path / "o")])
    assert "non-LLM reference policy" not in oracle.output


def test_baseline_figures_match_the_benchmarks_page() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for name, (right, n) in BASELINE_TOP1.items():
        assert f"| {name} | {n} | {right} ({right / n:.1%})" in page, name


def test_scenarios_show_prints_json() -> None:
    result = cli.invoke(app, ["scenarios", "show", "demo/0001"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["id"] == "demo/0001" and "answer" not in data
    assert "None" not in result.output and "'" not in result.output.split('"objective"')[0]


def test_counts_agree_with_their_nouns(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_text((ROOT / "scenarios" / "data" / "demo.jsonl").read_text().splitlines()[0] + "\n")
    result = cli.invoke(app, ["scenarios", "validate", str(one)])
    assert f"{one}: 1 valid scenario, ok" in result.output
    result = cli.invoke(app, ["scenarios", "validate", "demo"])
    assert "demo: 8 valid scenarios, ok" in result.output
