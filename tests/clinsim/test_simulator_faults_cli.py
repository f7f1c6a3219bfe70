"""A run whose simulator faults show in `clinsim show` and `clinsim replay`: a scripted doctor
asks an LLM patient (a scripted reply server on loopback) questions its facts answer, and orders
a test the case holds under another name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app

runner = CliRunner()

# demo/0001: a smoker with pneumonia, on metformin and lisinopril, no family history on record.
REPLIES = {
    "Do you smoke?": ["I'm not sure."],
    "Does anyone in your family have heart disease?": [
        "I take metformin 1000 mg twice daily and lisinopril 10 mg daily."
    ],
    "What brings you in today?": [
        "I think I have pneumonia.",
        "The patient has had three days of fever and a cough with rust-coloured sputum.",
    ],
    "Do you have a fever?": ["Yes, I have had a fever and shaking chills for three days."],
}


def _patient(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    question = messages[-1]["content"]
    strict = "do not name any disease" in messages[0]["content"]
    replies = REPLIES[question]
    return {"content": replies[min(len(replies) - 1, int(strict))]}


def _script(tmp_path: Path) -> Path:
    actions = [{"kind": "ask_patient", "question": q} for q in REPLIES]
    actions += [
        {"kind": "order_test", "test": "oxygen level"},
        {"kind": "order_test", "test": "Chest X-ray"},
        {"kind": "submit_diagnosis", "diagnosis": "Asthma"},
    ]
    path = tmp_path / "doctor.json"
    path.write_text(json.dumps(actions))
    return path


def test_simulator_faults_are_shown_by_show_and_replay(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with LoopbackServer.in_thread(responder=_patient) as server:
        result = runner.invoke(
            app,
            [
                "run", "demo", "--limit", "1", "--out", str(out),
                "--doctor", f"scripted/{_script(tmp_path)}",
                "--patient", "openai/patient", "--base-url", server.base_url,
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output

    shown = runner.invoke(app, ["show", str(out)], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "wrong: spoiled by the simulator" in text and "wrong: doctor" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("demo/0001"))
    cells = row.split()  # episode, end, ok, turns, tests, cost USD, sim, diagnosis
    assert cells[2] == "sim" and cells[6] == "5" and cells[7] == "Asthma"
    for kind, rate in [
        ("unknown_despite_fact", "1 (25.0% of 4 patient answers)"),
        ("off_topic_answer", "1 (25.0% of 4 patient answers)"),
        ("third_person", "1 (25.0% of 4 patient answers)"),
        ("leak_regenerated", "1 (25.0% of 4 patient answers)"),
        ("test_missed", "1 (50.0% of 2 test reports)"),
    ]:
        assert f"fault: {kind}" in text and rate in text, (kind, text)

    record = json.loads(runner.invoke(app, ["show", str(out), "--json"]).output)["episodes"][0]
    assert record["spoiled"] is True and record["correct"] is False
    assert record["faults"] == {
        "unknown_despite_fact": 1,
        "off_topic_answer": 1,
        "third_person": 1,
        "leak_regenerated": 1,
        "test_missed": 1,
    }

    replayed = runner.invoke(app, ["replay", str(out), "demo/0001"], env={"COLUMNS": "200"})
    lines = replayed.output.splitlines()
    faults = [line for line in lines if "Simulator fault:" in line]
    assert len(faults) == 5, replayed.output
    # each fault follows the answer or report it is about, in the same turn
    smoke = next(i for i, line in enumerate(lines) if "Do you smoke?" in line)
    assert "I'm not sure." in lines[smoke + 1]
    assert "unknown_despite_fact" in lines[smoke + 2] and "social_history" in lines[smoke + 2]
    assert any("test_missed" in f and "Oxygen_Saturation" in f for f in faults)
    assert any("off_topic_answer" in f and "asked about family" in f for f in faults)


def test_the_doctor_never_sees_a_fault(tmp_path: Path) -> None:
    """Faults are events for the record: what the doctor is shown is the reply alone."""
    out = tmp_path / "run"
    with LoopbackServer.in_thread(responder=_patient) as server:
        runner.invoke(
            app,
            [
                "run", "demo", "--limit", "1", "--out", str(out),
                "--doctor", f"scripted/{_script(tmp_path)}",
                "--patient", "openai/patient", "--base-url", server.base_url,
            ],
        )  # fmt: skip
    events = [
        json.loads(line)
        for line in runner.invoke(
            app, ["replay", str(out), "demo/0001", "--json"]
        ).output.splitlines()
    ]
    evidence = [e["evidence"] for e in events if e["kind"] == "simulator_fault"]
    shown = [
        e.get("answer") or e.get("result")
        for e in events
        if e["kind"] in ("patient_answered", "test_reported")
    ]
    assert evidence and not any(piece in said for piece in evidence for said in shown)
