"""Flags out of range are refused with one clear line and a non-zero exit, before anything runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.runner import RunConfig
from clinsim.tools.ehr.sealed import QueryLimits

cli = CliRunner()

BAD_RUN_FLAGS = [
    (["--out", ""], "--out"),
    (["--out", "."], "--out"),
    (["--budget", "-1"], "--budget"),
    (["--budget", "nan"], "--budget"),
    (["--budget", "inf"], "--budget"),
    (["--timeout", "0"], "--timeout"),
    (["--timeout", "-1"], "--timeout"),
    (["--timeout", "nan"], "--timeout"),
    (["--timeout", "1e308"], "--timeout"),
    (["--temperature", "nan"], "--temperature"),
    (["--temperature", "-0.5"], "--temperature"),
    (["--max-turns", "0"], "--max-turns"),
    (["--max-turns", "nan"], "--max-turns"),
    (["--max-concurrency", "0"], "--max-concurrency"),
    (["--max-concurrency", "-3"], "--max-concurrency"),
    (["--limit", "0"], "--limit"),
    (["--limit", "inf"], "--limit"),
]


@pytest.mark.parametrize(("args", "flag"), BAD_RUN_FLAGS, ids=lambda v: " ".join(v))
def test_run_refuses_out_of_range_flags(
    args: list[str], flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["run", "--limit", "1", *args])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.output
    assert "Traceback" not in result.output
    assert os.listdir(tmp_path) == []  # nothing was run or written


@pytest.mark.parametrize(
    "option", ["max_retries=-1", "retry_backoff_s=nan", "max_concurrency=0", "retry_backoff_s=1e9"]
)
def test_run_refuses_out_of_range_backend_settings(option: str, tmp_path: Path) -> None:
    result = cli.invoke(
        app,
        [
            "run",
            "--doctor",
            "openai/m",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model-option",
            option,
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert option.split("=")[0] in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", ["1e308", "0", "-1", "nan", "inf"])
def test_ehr_query_refuses_an_unusable_timeout(value: str, tmp_path: Path) -> None:
    result = cli.invoke(
        app,
        [
            "ehr",
            "query",
            "--db",
            str(tmp_path / "none.duckdb"),
            "--subject-id",
            "1",
            "--as-of",
            "2180-01-01",
            "--timeout",
            value,
            "SELECT 1",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timeout'" in result.output


def test_replay_refuses_an_empty_out(tmp_path: Path) -> None:
    result = cli.invoke(app, ["replay", str(tmp_path), "e", "--fork-at", "1", "--out", ""])
    assert result.exit_code == 2 and "Invalid value for '--out'" in result.output


def test_the_library_refuses_them_too() -> None:
    for budget in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="budget"):
            RunConfig(budget=budget)
    for timeout in (0.0, -1.0, float("nan"), 1e308):
        with pytest.raises(ValueError, match="timeout_s"):
            QueryLimits(timeout_s=timeout)
