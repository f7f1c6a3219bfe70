"""Repeated trials: distinct seeds, the trial in the episode's identity, pass^k in `show`."""

from __future__ import annotations

import hashlib
import json
from math import comb
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.run_store import RunStore
from clinsim.runner import episode_seed

cli = CliRunner()


def run_cli(*args: str, columns: int = 120) -> str:
    result = cli.invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def three_trials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trials") / "r"
    run_cli("run", "demo", "--trials", "3", "--seed", "1", "--out", str(out))
    return out


def test_trial_zero_keeps_the_seed_runs_had_before_trials() -> None:
    before = int(hashlib.sha256(b"1:demo/0001").hexdigest()[:8], 16)
    assert episode_seed(1, "demo/0001") == episode_seed(1, "demo/0001", 0) == before
    seeds = {episode_seed(1, "demo/0001", trial) for trial in range(5)}
    assert len(seeds) == 5


def test_every_scenario_runs_k_times_with_its_own_seeds(three_trials: Path) -> None:
    store = RunStore(three_trials)
    records = store.episodes()
    assert len(records) == 24
    ids = [r.episode_id for r in records]
    assert ids[:3] == ["demo/0001", "demo/0001@1", "demo/0001@2"]  # by scenario, then trial
    assert sorted(r.trial for r in records if r.scenario_id == "demo/0005") == [0, 1, 2]
    for r in records:
        assert r.seed == episode_seed(1, r.scenario_id, r.trial)
        started = store.events(r.episode_id)[0]
        assert started.kind == "episode_started" and started.seed == r.seed
        assert r.scenario_set == "demo"


def test_show_gives_pass_k_and_intervals_with_their_method(three_trials: Path) -> None:
    text = run_cli("show", str(three_trials))
    lines = text.splitlines()
    for k in (1, 2, 3):
        row = next(line for line in lines if line.strip().startswith(f"pass^{k} "))
        assert "[" in row and ("BCa" in row or "pct" in row), row
    assert any(line.strip().startswith("pass@3") for line in lines)
    assert "bootstrap over scenarios" in text  # the caption names the method in full
    accuracy = next(line for line in lines if line.strip().startswith("accuracy"))
    records = RunStore(three_trials).episodes()
    right = sum(r.correct for r in records)
    assert f"({right}/24)" in accuracy and "[" in accuracy
    assert "By specialty" in text and "pulmonology" in text


def test_show_json_carries_the_same_figures_as_an_independent_count(three_trials: Path) -> None:
    shown = json.loads(run_cli("show", str(three_trials), "--json"))
    summary = shown["summary"]
    records = RunStore(three_trials).episodes()
    per: dict[str, list[bool]] = {}
    for r in records:
        per.setdefault(r.scenario_id, []).append(r.correct)
    assert summary["trials"] == 3 and summary["scenarios"] == 8 and summary["episodes"] == 24
    assert summary["accuracy"]["estimate"] == pytest.approx(sum(r.correct for r in records) / 24)
    assert summary["accuracy"]["method"].startswith("cluster_bootstrap")
    for row in summary["pass_k"]:
        k = row["k"]
        hat = sum(comb(sum(v), k) / comb(3, k) for v in per.values()) / 8
        at = sum(1 - comb(3 - sum(v), k) / comb(3, k) for v in per.values()) / 8
        assert row["pass_hat"]["estimate"] == pytest.approx(hat)
        assert row["pass_at"]["estimate"] == pytest.approx(at)
        assert row["pass_hat"]["low"] <= hat <= row["pass_hat"]["high"]
        assert row["pass_hat"]["method"]
    assert [row["k"] for row in summary["pass_k"]] == [1, 2, 3]
    cost = sum(r.cost for r in records) / 24
    assert summary["cost"]["estimate"] == pytest.approx(cost)
    assert {b["by"] for b in summary["breakdowns"]} >= {"set", "termination", "tag:specialty"}
    assert len(shown["episodes"]) == 24 and shown["episodes"][1]["trial"] == 1


def test_replay_rerun_and_fork_address_a_trial(three_trials: Path, tmp_path: Path) -> None:
    replayed = run_cli("replay", str(three_trials), "demo/0002@2")
    assert "demo/0002" in replayed and "DIAGNOSIS" in replayed
    original = RunStore(three_trials).episodes()[5]
    assert original.episode_id == "demo/0002@2"
    assert f"seed={original.seed}" in replayed
    assert "identical" in run_cli("replay", str(three_trials), "demo/0002@2", "--rerun")
    fork = tmp_path / "fork"
    run_cli("replay", str(three_trials), "demo/0002@2", "--fork-at", "3", "--doctor", "oracle",
            "--out", str(fork))  # fmt: skip
    (forked,) = RunStore(fork).episodes()
    assert (forked.episode_id, forked.trial, forked.seed) == ("demo/0002@2", 2, original.seed)


def test_resume_completes_the_missing_trials(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run_cli("run", "demo", "--trials", "2", "--limit", "3", "--out", str(out))
    assert len(RunStore(out).episodes()) == 6
    run_cli("run", "demo", "--trials", "2", "--out", str(out), "--resume")
    records = RunStore(out).episodes()
    assert len(records) == 16
    assert len({r.episode_id for r in records}) == 16
    changed = cli.invoke(app, ["run", "demo", "--trials", "3", "--out", str(out), "--resume"])
    assert changed.exit_code == 2 and "trials" in changed.output


def test_a_store_written_before_trials_is_shown_and_resumed(tmp_path: Path) -> None:
    out = tmp_path / "old"
    run_cli("run", "demo", "--limit", "2", "--out", str(out))
    with duckdb.connect(str(out / "run.duckdb")) as con:  # the schema of older stores
        con.execute("ALTER TABLE episodes DROP COLUMN trial")
        con.execute("ALTER TABLE episodes DROP COLUMN scenario_set")
        con.execute("DELETE FROM episodes WHERE episode_id = 'demo/0002'")
    shown = json.loads(run_cli("show", str(out), "--json"))
    assert [e["trial"] for e in shown["episodes"]] == [0]
    assert shown["summary"]["breakdowns"][0]["groups"][0]["value"] == "demo"
    run_cli("run", "demo", "--limit", "2", "--out", str(out), "--resume")
    assert [r.episode_id for r in RunStore(out).episodes()] == ["demo/0001", "demo/0002"]
