"""`clinsim judge PAIRS.jsonl`: verdicts per pair, agreement, kappa and confusion matrix per
judge, disagreeing pairs; the LLM judge really runs against the loopback OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app

runner = CliRunner()


def cohen_kappa_score(labels: list[bool], verdicts: list[bool]) -> float:
    """Cohen's kappa from its definition: (observed - chance agreement) / (1 - chance)."""
    n = len(labels)
    observed = sum(a == b for a, b in zip(labels, verdicts, strict=True)) / n
    yes = (sum(labels) / n) * (sum(verdicts) / n)
    no = (1 - sum(labels) / n) * (1 - sum(verdicts) / n)
    return (observed - yes - no) / (1 - yes - no)


PAIRS = [
    {"reference": "Myocardial infarction", "answer": "MI", "label": True},
    {"reference": "Hepatitis A", "answer": "Hepatitis B", "label": False},
    {"reference": "Asthma", "answer": "COPD", "label": True},
    {"reference": "Reactive arthritis", "answer": "Reiter's disease", "label": True},
    {"reference": "Non-Hodgkin lymphoma", "answer": "Lymphoma", "label": False},
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _pairs(tmp_path: Path) -> Path:
    return _write(tmp_path / "p.jsonl", [json.dumps(p) for p in PAIRS])


def _records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_json_verdicts_agreement_kappa_and_confusion(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judge", str(_pairs(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    verdicts = [r["verdicts"]["rules"] for r in records[:5]]
    assert [v["match"] for v in verdicts] == [True, False, False, True, False]
    assert [v["grade"] for v in verdicts][3:] == ["synonym", "less_specific"]
    summary = records[5]
    assert summary["judge"] == "rules" and summary["n"] == 5
    assert summary["confusion"] == {"true_pos": 2, "false_pos": 0, "false_neg": 1, "true_neg": 2}
    assert summary["agreement"] == 0.8
    labels = [p["label"] for p in PAIRS]
    expected = cohen_kappa_score(labels, [v["match"] for v in verdicts])
    assert abs(summary["kappa"] - expected) < 1e-4
    assert records[6] == {"disagreements": [3]}


def test_tables_name_every_figure(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judge", str(_pairs(tmp_path))], terminal_width=200)
    assert result.exit_code == 0, result.output
    for text in ("agreement", "kappa", "80.0%", "Confusion matrix: rules", "no match"):
        assert text in result.stdout
    assert "Pairs where judges disagree (1)" in result.stdout and "COPD" in result.stdout


def test_less_specific_counts_when_the_run_asks(tmp_path: Path) -> None:
    args = ["judge", str(_pairs(tmp_path)), "--json"]
    strict = _records(runner.invoke(app, args).stdout)
    lenient = _records(
        runner.invoke(app, [*args, "--agent-option", "judge.accept_less_specific=true"]).stdout
    )
    assert strict[4]["verdicts"]["rules"]["match"] is False
    assert lenient[4]["verdicts"]["rules"]["match"] is True


def _llm_judge(body: dict[str, Any]) -> dict[str, Any]:
    """A deterministic model judge: 'Yes' when the two names share a word."""
    prompt = body["messages"][-1]["content"].lower()
    correct = prompt.split("correct diagnosis:")[1].split("\n")[0]
    doctor = prompt.split("doctor's diagnosis:")[1].split("\n")[0]
    same = set(correct.split()) & set(doctor.split())
    return {"content": "Yes, the same disease." if same else "No, a different disease."}


def test_rules_and_an_llm_judge_against_the_loopback_server(tmp_path: Path) -> None:
    pairs = _pairs(tmp_path)
    with LoopbackServer.in_thread(responder=_llm_judge) as server:
        args = ["judge", str(pairs), "--judge", "rules", "--judge", "openai/judge-model"]
        args += ["--base-url", server.base_url]
        result = runner.invoke(app, [*args, "--json"])
        table = runner.invoke(app, args, terminal_width=200)
        served = len(server.requests)
    assert result.exit_code == 0, result.output
    assert served == 2 * len(PAIRS) and all(r["model"] == "judge-model" for r in server.requests)
    records = _records(result.stdout)
    llm = [r["verdicts"]["openai/judge-model"]["match"] for r in records[:5]]
    assert llm == [False, True, False, False, True]  # shares a word: hepatitis; lymphoma
    summaries = {r["judge"]: r for r in records if "judge" in r}
    assert set(summaries) == {"rules", "openai/judge-model"}
    assert summaries["openai/judge-model"]["confusion"] == {
        "true_pos": 0,
        "false_pos": 2,
        "false_neg": 3,
        "true_neg": 0,
    }
    labels = [p["label"] for p in PAIRS]
    assert abs(summaries["openai/judge-model"]["kappa"] - cohen_kappa_score(labels, llm)) < 1e-4
    assert records[-1] == {"disagreements": [1, 2, 3, 4, 5]}
    assert table.exit_code == 0
    assert "openai/judge-model" in table.stdout and "kappa" in table.stdout


def _graded_llm_judge(body: dict[str, Any]) -> dict[str, Any]:
    """A deterministic grading model: 'synonym' when the names share a word, else 'wrong';
    it answers yes/no unless the system prompt asks for grades."""
    if "grades:" not in body["messages"][0]["content"].lower():
        return {"content": "Yes."}
    shared = _llm_judge(body)["content"].startswith("Yes")
    return {"content": "synonym: shares a word." if shared else "wrong: nothing in common."}


def test_a_graded_llm_judge_against_the_loopback_server(tmp_path: Path) -> None:
    pairs = _pairs(tmp_path)
    with LoopbackServer.in_thread(responder=_graded_llm_judge) as server:
        args = ["judge", str(pairs), "--judge", "rules", "--judge", "openai/grader", "--json"]
        args += ["--base-url", server.base_url, "--agent-option", "judge.graded=true"]
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    llm = [r["verdicts"]["openai/grader"] for r in records[:5]]
    assert [v["grade"] for v in llm] == ["wrong", "synonym", "wrong", "wrong", "synonym"]
    assert [v["match"] for v in llm] == [False, True, False, False, True]
    summaries = {r["judge"]: r for r in records if "judge" in r}
    assert summaries["openai/grader"]["grades"] == {"wrong": 3, "synonym": 2}


def test_a_dead_judge_server_loses_only_that_judge(tmp_path: Path) -> None:
    pairs = _pairs(tmp_path)
    with LoopbackServer.in_thread(faults=["500"] * 40, responder=_llm_judge) as server:
        args = ["judge", str(pairs), "--judge", "rules", "--judge", "openai/j", "--json"]
        result = runner.invoke(app, [*args, "--base-url", server.base_url, "--timeout", "5"])
    assert result.exit_code == 1
    records = _records(result.stdout)
    assert all("error" in r["verdicts"]["openai/j"] for r in records[:5])
    summaries = {r["judge"]: r for r in records if "judge" in r}
    assert summaries["openai/j"]["errors"] == 5 and summaries["openai/j"]["n"] == 0
    assert summaries["rules"]["n"] == 5 and summaries["rules"]["agreement"] == 0.8
    assert "5 verdict(s) failed" in result.stderr


def test_no_figures_without_labels(tmp_path: Path) -> None:
    pairs = _write(tmp_path / "p.jsonl", [json.dumps({"reference": "Gout", "answer": "gout"})])
    result = runner.invoke(app, ["judge", str(pairs), "--json"])
    assert result.exit_code == 0
    records = _records(result.stdout)
    assert records[0]["verdicts"]["rules"]["match"] is True
    assert records[1]["n"] == 0 and records[1]["agreement"] is None


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
    result = runner.invoke(app, ["judge", str(pairs), "--json"])
    assert result.exit_code == 1
    assert f"{pairs}:1: invalid JSON" in result.stderr
    assert f"{pairs}:3: answer: expected a non-empty string" in result.stderr
    assert f"{pairs}:4: label" in result.stderr
    assert [r["line"] for r in _records(result.stdout) if "line" in r] == [2]


def test_missing_file_and_unknown_judge_are_clean_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judge", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "no such file" in result.stderr and "Traceback" not in result.output
    unknown = runner.invoke(app, ["judge", str(_pairs(tmp_path)), "--judge", "oracle"])
    assert unknown.exit_code != 0 and "no judge called 'oracle'" in unknown.stderr
    vocabulary = runner.invoke(
        app, ["judge", str(_pairs(tmp_path)), "--vocabulary", str(tmp_path / "v.json")]
    )
    assert vocabulary.exit_code == 2 and "v.json: no such file" in vocabulary.stderr
    unused = runner.invoke(app, ["judge", str(_pairs(tmp_path)), "--agent-option", "bias=x"])
    assert unused.exit_code == 2 and "bias" in unused.stderr
