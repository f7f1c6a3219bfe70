"""`clinsim export` writes a run's tables as files; `clinsim runs` lists the runs at hand."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.run_store import EPISODE_FIELDS, RunStore

cli = CliRunner()


def invoke(*args: str) -> str:
    result = cli.invoke(app, list(args), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "r"
    invoke("run", "demo", "--limit", "3", "--trials", "2", "--out", str(out))
    return out


@pytest.mark.parametrize(
    ("fmt", "reader"),
    [("parquet", "read_parquet"), ("jsonl", "read_json_auto"), ("csv", "read_csv_auto")],
)
def test_episodes_and_events_come_back_whole(
    run_dir: Path, tmp_path: Path, fmt: str, reader: str
) -> None:
    out = tmp_path / "export"
    printed = invoke("export", str(run_dir), "--format", fmt, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == [f"episodes.{fmt}", f"events.{fmt}"]
    assert str(out / f"episodes.{fmt}") in printed
    store = RunStore(run_dir)
    records = store.episodes()
    with duckdb.connect() as con:
        episodes = con.execute(
            f"SELECT episode_id, trial, correct FROM {reader}('{out}/episodes.{fmt}') "
            "ORDER BY position"
        ).fetchall()
        columns = [
            d[0] for d in con.execute(f"SELECT * FROM {reader}('{out}/episodes.{fmt}')").description
        ]
        events = con.execute(
            f"SELECT episode_id, seq, payload FROM {reader}('{out}/events.{fmt}') "
            "ORDER BY episode_id, seq"
        ).fetchall()
    assert episodes == [(r.episode_id, r.trial, r.correct) for r in records]
    assert set(EPISODE_FIELDS) <= set(columns)
    stored = [(r.episode_id, e.seq) for r in sorted(records, key=lambda r: r.episode_id)
              for e in store.events(r.episode_id)]  # fmt: skip
    assert [(e, s) for e, s, _ in events] == stored
    payload = events[0][2]
    assert json.loads(payload if isinstance(payload, str) else json.dumps(payload))["kind"]


def test_export_refuses_what_it_cannot_do(run_dir: Path, tmp_path: Path) -> None:
    bad = cli.invoke(app, ["export", str(run_dir), "--format", "xlsx", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "xlsx" in bad.output
    missing = cli.invoke(app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "no run" in missing.output


def test_runs_lists_each_run_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    invoke("run", "demo", "--limit", "2", "--out", "runs/first")
    invoke(
        "run", "demo", "--limit", "4", "--doctor", "oracle", "--trials", "2", "--out", "runs/second"
    )
    (tmp_path / "runs" / "not-a-run").mkdir()
    lines = invoke("runs").splitlines()
    first = next(line for line in lines if " first " in line)
    second = next(line for line in lines if " second " in line)
    assert "demo" in first and "baseline" in first and " 2 " in first
    accuracy = sum(r.correct for r in RunStore(tmp_path / "runs" / "first").episodes()) / 2
    assert first.rstrip().endswith(f"{accuracy:.1%}")
    assert "oracle" in second and "8 (2 trials)" in second and second.rstrip().endswith("100.0%")
    assert not any("not-a-run" in line for line in lines)
    empty = cli.invoke(app, ["runs", "--root", str(tmp_path / "nothing")])
    assert empty.exit_code == 2 and "no such folder" in empty.output
