"""Experiment files: checked before anything runs, run cell by cell, resumed after a kill,
queried with one SQL query across cells, shown with the comparisons they ask for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore

cli = CliRunner()
GRID = """
name = "doctors by turns"

[base]
sources = ["demo"]
trials = 2
seed = 1

[grid]
doctor = ["baseline", "oracle"]
max_turns = [4, 20]

[report]
compare = ["doctor"]
"""
CELLS = [
    "doctor=baseline,max_turns=4",
    "doctor=baseline,max_turns=20",
    "doctor=oracle,max_turns=4",
    "doctor=oracle,max_turns=20",
]


def invoke(*args: str) -> str:
    result = cli.invoke(app, list(args), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


def stored_cells(directory: Path) -> dict[str, int]:
    cells = directory / "cells"
    if not cells.exists():
        return {}
    return {
        d.name: len(RunStore(d).episodes()) for d in cells.iterdir() if (d / "run.duckdb").is_file()
    }


def kill_after_first_cell(command: list[str], directory: Path) -> None:
    """Start the experiment and SIGKILL it once the second cell has begun."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = directory / "cells" / CELLS[1] / "run.duckdb"
    deadline = time.monotonic() + 300
    try:
        while not second.exists():
            assert process.poll() is None, "the experiment ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2x2 grid with 2 trials, killed during its second cell, then resumed."""
    root = tmp_path_factory.mktemp("experiment")
    spec = root / "grid.toml"
    spec.write_text(GRID)
    out = root / "exp"
    clinsim = str(Path(sys.executable).with_name("clinsim"))
    kill_after_first_cell([clinsim, "experiment", "run", str(spec), "--out", str(out)], out)
    before = stored_cells(out)
    assert before.get(CELLS[0]) == 16 and sum(before.values()) < 64, before
    again = cli.invoke(app, ["experiment", "run", str(spec), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = invoke("experiment", "run", str(spec), "--out", str(out), "--resume")
    assert f"cell 1/4 {CELLS[0]}: complete" in resumed
    assert stored_cells(out) == dict.fromkeys(CELLS, 16)
    return out


def test_the_resumed_experiment_holds_what_an_uninterrupted_one_does(
    experiment: Path, tmp_path: Path
) -> None:
    spec = experiment.parent / "grid.toml"
    invoke("experiment", "run", str(spec), "--out", str(tmp_path / "whole"))
    for cell in CELLS:
        resumed, whole = (
            RunStore(experiment / "cells" / cell),
            RunStore(tmp_path / "whole" / "cells" / cell),
        )
        keep = {"wall_s"}
        assert [r.model_dump(exclude=keep) for r in resumed.episodes()] == [
            r.model_dump(exclude=keep) for r in whole.episodes()
        ]
        for record in whole.episodes()[:3]:
            old = [comparable(e) for e in resumed.events(record.episode_id)]
            assert old == [comparable(e) for e in whole.events(record.episode_id)]


def test_show_prints_one_row_per_cell_and_the_comparisons(experiment: Path) -> None:
    text = invoke("experiment", "show", str(experiment))
    rows = [line for line in text.splitlines() if line.strip().startswith(("baseline", "oracle"))]
    assert len(rows) == 4 and all("16/16" in row and "[" in row for row in rows)
    assert "Compared: doctor at max_turns=4: A = baseline, B = oracle" in text
    assert "Compared: doctor at max_turns=20" in text and "McNemar p (exact)" in text
    figures = json.loads(invoke("experiment", "show", str(experiment), "--json"))
    assert [c["cell"] for c in figures["cells"]] == CELLS
    for cell in figures["cells"]:
        records = RunStore(experiment / "cells" / cell["directory"]).episodes()
        accuracy = sum(r.correct for r in records) / len(records)
        assert cell["summary"]["accuracy"]["estimate"] == pytest.approx(accuracy)
        assert cell["summary"]["trials"] == 2 and cell["expected"] == 16
    assert [c["title"] for c in figures["comparisons"]] == [
        "doctor at max_turns=4",
        "doctor at max_turns=20",
    ]
    assert figures["frontier"] == []  # budgets do not vary


def test_one_sql_query_spans_every_cell(experiment: Path) -> None:
    sql = (
        "SELECT doctor, max_turns, count(*) AS episodes, avg(correct::INT) AS accuracy "
        "FROM episodes GROUP BY ALL ORDER BY doctor, max_turns"
    )
    lines = invoke("experiment", "query", str(experiment), sql, "--format", "json").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["doctor"], r["max_turns"], r["episodes"]) for r in rows] == [
        ("baseline", 4, 16), ("baseline", 20, 16), ("oracle", 4, 16), ("oracle", 20, 16)
    ]  # fmt: skip
    for row in rows:
        cell = f"doctor={row['doctor']},max_turns={row['max_turns']}"
        records = RunStore(experiment / "cells" / cell).episodes()
        assert row["accuracy"] == pytest.approx(sum(r.correct for r in records) / 16)
    events = invoke(
        "experiment", "query", str(experiment),
        "SELECT count(DISTINCT cell) FROM events WHERE kind = 'diagnosis_judged'",
        "--format", "csv",
    )  # fmt: skip
    assert events.splitlines()[1] == "4"


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("COPY episodes TO 'stolen.csv'", "file system operations are disabled"),
        ("ATTACH 'other.duckdb' AS o", "query failed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SET enable_external_access = true", "query failed"),
        ("SELEC 1", "query failed: Parser Error"),
    ],
)
def test_a_query_reads_the_experiment_and_nothing_else(
    experiment: Path, sql: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["experiment", "query", str(experiment), sql])
    assert result.exit_code == 2 and problem in result.output, result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[base]\nsources = ['demo']\n[grids]\ndoctor = ['oracle']\n", "grids: not a section"),
        ("[grid]\ndoctr = ['oracle']\n", "grid.doctr: not a setting"),
        ("[grid]\nmax_turns = [0, 20]\n", "max_turns: Input should be greater than or equal to 1"),
        ("[grid]\ndoctor = ['oracle', 'nobody']\n", "cell doctor=nobody: no doctor called 'nobody'"),
        ("[grid]\n'agent_options.temprature' = [0.1]\n", "no selected component takes 'temprature'"),
        ("[base]\nmax_turns = 'many'\n", "base.max_turns"),
        ("[base]\nsources = ['no-such-set']\n", "no-such-set"),
        ("[grid]\ndoctor = []\n", "grid.doctor: must be a non-empty list"),
        ("[grid]\ndoctor = ['oracle']\n[report]\ncompare = ['budget']\n", "report.compare[0]"),
        ("[grid]\ndoctor = ['oracle', 'baseline']\n[report]\ncompare = [['doctor=oracle', 'x']]\n",
         "no cell 'x'"),
        ("[grid\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_malformed_file_names_the_key_before_anything_runs(
    tmp_path: Path, text: str, named: str
) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    result = cli.invoke(app, ["experiment", "run", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and not out.exists()


def test_the_executor_is_chosen_by_name(tmp_path: Path) -> None:
    spec = tmp_path / "e.toml"
    spec.write_text("[base]\nlimit = 1\ndoctor = 'oracle'\n")
    for name, problem in [("cluster", "no executor 'cluster'"), ("local:x", "takes no address")]:
        result = cli.invoke(app, ["experiment", "run", str(spec), "--executor", name])
        assert result.exit_code == 2 and problem in result.output
    out = tmp_path / "one"
    invoke("experiment", "run", str(spec), "--out", str(out), "--executor", "local")
    assert stored_cells(out) == {"base": 1}


def test_a_budget_grid_gives_the_accuracy_cost_frontier(tmp_path: Path) -> None:
    spec = tmp_path / "budgets.toml"
    spec.write_text(
        "[base]\nsources = ['demo']\ndoctor = 'baseline'\n\n[grid]\nbudget = [100, 400, 'none']\n"
    )
    out = tmp_path / "budgets"
    invoke("experiment", "run", str(spec), "--out", str(out))
    figures = json.loads(invoke("experiment", "show", str(out), "--json"))
    assert [c["settings"]["budget"] for c in figures["cells"]] == [100, 400, "none"]
    costs = {p["run"]: p["cost"] for p in figures["frontier"]}
    assert costs["budget=100"] < costs["budget=400"] < costs["budget=none"]
    unlimited = RunStore(out / "cells" / "budget=none").episodes()
    assert {r.termination for r in unlimited} == {"diagnosed"}
    capped = RunStore(out / "cells" / "budget=100").episodes()
    assert "budget_exhausted" in {r.termination for r in capped}
    assert "Accuracy against cost (budgets)" in invoke("experiment", "show", str(out))
