"""`clinsim judge PAIRS.jsonl`: one verdict a line, an agreement line, per-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clinsim.cli.main import _mount, app

_mount()
runner = CliRunner()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_verdict_per_line_and_agreement(tmp_path: Path) -> None:
    pairs = _write(
        tmp_path / "p.jsonl",
        [
            json.dumps({"reference": "Myocardial infarction", "answer": "MI", "label": True}),
            json.dumps({"reference": "Hepatitis A", "answer": "Hepatitis B", "label": False}),
            json.dumps({"reference": "Asthma", "answer": "COPD", "label": True}),
        ],
    )
    result = runner.invoke(app, ["judge", str(pairs)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["match"] for line in lines[:3]] == [True, False, False]
    assert all(line["reason"] for line in lines[:3])
    assert lines[3] == {
        "agreement": 0.6667,
        "n": 3,
        "true_pos": 1,
        "true_neg": 1,
        "false_pos": 0,
        "false_neg": 1,
    }


def test_no_agreement_line_without_labels(tmp_path: Path) -> None:
    pairs = _write(tmp_path / "p.jsonl", [json.dumps({"reference": "Gout", "answer": "gout"})])
    result = runner.invoke(app, ["judge", str(pairs)])
    assert result.exit_code == 0
    assert [json.loads(x)["match"] for x in result.stdout.splitlines()] == [True]


def test_malformed_lines_are_named_and_the_rest_still_judged(tmp_path: Path) -> None:
    pairs = _write(
        tmp_path / "p.jsonl",
        [
            "{not json",
            json.dumps({"reference": "Gout", "answer": "gout"}),
            json.dumps({"reference": "Gout"}),
            json.dumps({"reference": "Gout", "answer": "gout", "label": "yes"}),
        ],
    )
    result = runner.invoke(app, ["judge", str(pairs)])
    assert result.exit_code == 1
    assert f"{pairs}:1: invalid JSON" in result.stderr
    assert f"{pairs}:3: answer: expected a non-empty string" in result.stderr
    assert f"{pairs}:4: label" in result.stderr
    assert [json.loads(x)["line"] for x in result.stdout.splitlines()] == [2]


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judge", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_judges_are_chosen_by_address(tmp_path: Path) -> None:
    """--judge takes any installed judge or model address; with several, each record names its
    judge and each judge gets its agreement line."""
    from clinsim.agents.models.loopback import LoopbackServer

    def says_yes(body: dict[str, object]) -> dict[str, object]:
        return {"content": "Yes, the same disease."}

    pairs = _write(
        tmp_path / "p.jsonl",
        [
            json.dumps({"reference": "Myocardial infarction", "answer": "MI", "label": True}),
            json.dumps({"reference": "Asthma", "answer": "COPD", "label": False}),
        ],
    )
    with LoopbackServer.in_thread(responder=says_yes) as server:
        args = ["judge", str(pairs), "--judge", "rules", "--judge", "openai/judge"]
        result = runner.invoke(app, [*args, "--base-url", server.base_url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    verdicts = [(x["judge"], x["line"], x["match"]) for x in lines if "line" in x]
    assert verdicts == [
        ("rules", 1, True), ("openai/judge", 1, True), ("rules", 2, False), ("openai/judge", 2, True)
    ]  # fmt: skip
    agreement = {x["judge"]: x["agreement"] for x in lines if "agreement" in x}
    assert agreement == {"rules": 1.0, "openai/judge": 0.5}
    unknown = runner.invoke(app, ["judge", str(pairs), "--judge", "nobody"])
    assert unknown.exit_code == 2 and "no judge called 'nobody'" in unknown.output
    vocabulary = runner.invoke(app, ["judge", str(pairs), "--vocabulary", str(tmp_path / "v.json")])
    assert vocabulary.exit_code == 2 and "v.json: no such file" in vocabulary.output
