"""`clinsim compare` on real stored runs, checked against a count made here from the stores."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.run_store import EpisodeRecord, RunStore

cli = CliRunner()


def run_cli(*args: str) -> str:
    result = cli.invoke(app, list(args), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    script = root / "asthma.json"
    script.write_text(
        json.dumps({"actions": [{"kind": "submit_diagnosis", "diagnosis": "Asthma"}]})
    )
    made = {"baseline": root / "baseline", "oracle": root / "oracle", "asthma": root / "asthma"}
    run_cli("run", "demo", "--trials", "2", "--out", str(made["baseline"]))
    run_cli("run", "demo", "--trials", "2", "--limit", "6", "--doctor", "oracle",
            "--out", str(made["oracle"]))  # fmt: skip
    run_cli("run", "demo", "--trials", "2", "--doctor", f"scripted/{script}",
            "--out", str(made["asthma"]))  # fmt: skip
    return made


def binomial_two_sided(b: int, c: int) -> float:
    n, low = b + c, min(b, c)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(low + 1)) / 2**n)


def by_key(run_dir: Path) -> dict[tuple[str, int], EpisodeRecord]:
    return {(r.scenario_id, r.trial): r for r in RunStore(run_dir).episodes()}


def test_two_runs_against_an_independent_computation(runs: dict[str, Path]) -> None:
    shown = json.loads(run_cli("compare", str(runs["baseline"]), str(runs["oracle"]), "--json"))
    a, b = by_key(runs["baseline"]), by_key(runs["oracle"])
    keys = sorted(set(a) & set(b))
    assert len(keys) == 12  # 6 scenarios x 2 trials; the baseline's last 2 scenarios unpaired
    (pair,) = shown["pairs"]
    assert (pair["pairs"], pair["unpaired_a"], pair["unpaired_b"]) == (12, 4, 0)
    difference = sum(a[k].correct - b[k].correct for k in keys) / len(keys)
    assert pair["accuracy_difference"]["estimate"] == pytest.approx(difference)
    interval = pair["accuracy_difference"]
    assert interval["low"] <= difference <= interval["high"] and interval["method"]
    only_a = [k for k in keys if a[k].correct and not b[k].correct]
    only_b = [k for k in keys if b[k].correct and not a[k].correct]
    assert only_b and pair["mcnemar_p"] == pytest.approx(
        binomial_two_sided(len(only_a), len(only_b))
    )
    listed = [(d["scenario_id"], d["trial"], d["diagnosis_a"], d["diagnosis_b"])
              for d in pair["b_right_a_wrong"]]  # fmt: skip
    assert listed == [(s, t, a[(s, t)].diagnosis, b[(s, t)].diagnosis) for s, t in only_b]
    cost = sum(a[k].cost - b[k].cost for k in keys) / len(keys)
    assert pair["cost_difference"]["estimate"] == pytest.approx(cost)
    turns = sum(a[k].turns - b[k].turns for k in keys) / len(keys)
    assert pair["turns_difference"]["estimate"] == pytest.approx(turns)


def test_the_text_shows_the_difference_p_value_and_discordant_cases(runs: dict[str, Path]) -> None:
    text = run_cli("compare", str(runs["baseline"]), str(runs["oracle"]))
    assert "McNemar p (exact)" in text and "A - B" in text
    assert "4 of A, 0 of B" in text  # could not be paired
    assert "Discordant" in text
    a, b = by_key(runs["baseline"]), by_key(runs["oracle"])
    wrong = next(k for k in sorted(set(a) & set(b)) if b[k].correct and not a[k].correct)
    flat = " ".join(text.split())
    assert f"A: {a[wrong].diagnosis}" in flat and f"B: {b[wrong].diagnosis}" in flat


def holm(pvalues: list[float]) -> list[float]:
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def test_three_runs_are_holm_corrected(runs: dict[str, Path]) -> None:
    dirs = [str(runs[name]) for name in ("baseline", "oracle", "asthma")]
    shown = json.loads(run_cli("compare", *dirs, "--json"))
    assert shown["correction"] == "holm" and len(shown["pairs"]) == 3
    raw = [p["mcnemar_p"] for p in shown["pairs"]]
    for pair, expected in zip(shown["pairs"], holm(raw), strict=True):
        assert pair["mcnemar_p_holm"] == pytest.approx(expected)
    assert "Holm-corrected p" in run_cli("compare", *dirs)


def test_runs_with_no_scenario_in_common_are_refused(tmp_path: Path, runs: dict[str, Path]) -> None:
    other = tmp_path / "other"
    run_cli("run", "agentclinic-medqa", "--limit", "2", "--doctor", "oracle", "--out", str(other))
    result = cli.invoke(app, ["compare", str(runs["baseline"]), str(other)])
    assert result.exit_code == 2
    assert "no scenario (and trial) in common" in result.output
    assert "Traceback" not in result.output
    one = cli.invoke(app, ["compare", str(other)])
    assert one.exit_code == 2 and "two or more runs" in one.output
    twice = cli.invoke(app, ["compare", str(other), str(other)])
    assert twice.exit_code == 2 and "given twice" in twice.output
