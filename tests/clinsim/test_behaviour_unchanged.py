"""Seeded runs give the events recorded before the plumbing was reworked.

`tests/data/behaviour/events.jsonl.gz` was recorded by the code as it was before components
became plugins (settings bags, OpenAI-dict tool specs, events passed back by every role), with
the features of the time (simulator-fault checks, lenient reply reading) in place. It holds the
comparable events (wall-clock fields aside) of
seeded runs of the offline doctors (baseline, oracle, a scripted doctor that also calls EHR and
image tools) on the demo set, the first 10 AgentClinic-MedQA cases, the first 5 MIMIC-IV demo
admissions and the first 5 image cases, and of model-played runs (JSON and tool-call protocols,
model patient, measurement reader and judge) against a deterministic loopback server. Every run
here must give those events exactly; a deliberate change of a field is applied to the recorded
events below, with its reason.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.sets import load_scenarios

DATA = Path(__file__).resolve().parents[1] / "data" / "behaviour"
SCRIPT = DATA / "script.json"
OFFLINE_SETS = {"demo": None, "agentclinic-medqa": 10, "mimic-iv-demo": 5, "images": 5}
OFFLINE_DOCTORS = ("baseline", "oracle", "scripted/SCRIPT")

Events = dict[str, list[dict[str, Any]]]


def recorded() -> Events:
    with gzip.open(DATA / "events.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return {row["episode"]: row["events"] for row in rows}


def clinic(body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic model roles: a JSON-protocol doctor (one unusable reply included), a
    tool-calling doctor, a patient, a measurement reader and a judge."""
    messages, model = body["messages"], body["model"]
    if model == "judge":
        return {"content": "Yes, the same disease."}
    if model == "pat":
        return {"content": f"I have had it for {len(messages)} days."}
    if model == "meas":
        return {"content": "RESULTS: within normal limits"}
    turn = sum(m["role"] == "assistant" for m in messages)
    if model == "tooldoc":
        calls = [
            ("get_patient_summary", {}),
            ("query_ehr", {"sql": "SELECT count(*) AS n FROM labevents"}),
            ("ask_patient", {"question": "Any pain?"}),
            ("order_test", {"test": "Blood tests"}),
            ("submit_diagnosis", {"diagnosis": "Sepsis", "differential": ["Pneumonia"]}),
        ]
        name, arguments = calls[min(turn, len(calls) - 1)]
        call = {"name": name, "arguments": json.dumps(arguments)}
        return {
            "content": None,
            "tool_calls": [{"id": f"c{turn}", "type": "function", "function": call}],
        }
    script = [
        '{"action": "ask_patient", "question": "What brings you in?"}',
        "not json at all",
        '{"action": "order_test", "test": "Blood tests"}',
        '{"action": "submit_diagnosis", "diagnosis": "Myasthenia gravis"}',
    ]
    return {"content": script[min(turn, len(script) - 1)]}


MODEL_RUNS: dict[str, tuple[str, int, dict[str, Any], dict[str, Any]]] = {
    "llm-json": (
        "agentclinic-medqa",
        3,
        {"doctor": "openai/doc", "patient": "openai/pat", "measurement": "openai/meas",
         "judges": ["rules", "openai/judge"]},
        {},
    ),
    "llm-tools": (
        "mimic-iv-demo",
        2,
        {"doctor": "openai/tooldoc", "patient": "openai/pat"},
        {"doctor.protocol": "tools"},
    ),
}  # fmt: skip


def play(run_dir: Path, label: str, source: str, limit: int | None, config: RunConfig) -> Events:
    scenarios = load_scenarios([source])[: limit or None]
    store = RunStore(run_dir)
    plan = resolve(config)
    store.create("r", plan.stored().model_dump(mode="json"))
    records = asyncio.run(Runner(plan, store, "r").run(scenarios))
    return {
        f"{label} {r.episode_id}": [comparable(e) for e in store.events(r.episode_id)]
        for r in records
    }


def offline_runs(tmp_path: Path) -> Events:
    events: Events = {}
    for source, limit in OFFLINE_SETS.items():
        for doctor in OFFLINE_DOCTORS:
            label = doctor.split("/")[0]
            address = doctor.replace("SCRIPT", str(SCRIPT))
            config = RunConfig(sources=[source], doctor=address, seed=3, limit=limit)
            events |= play(tmp_path / f"{source}-{label}", label, source, limit, config)
    return events


def model_runs(tmp_path: Path) -> Events:
    events: Events = {}
    with LoopbackServer.in_thread(responder=clinic) as server:
        for label, (source, limit, roles, options) in MODEL_RUNS.items():
            models = {"base_urls": [server.base_url], "max_retries": 0, "timeout_s": 10}
            config = RunConfig.model_validate(
                {"sources": [source], "seed": 3, "limit": limit, **roles,
                 "agent_options": options, "model_options": models}
            )  # fmt: skip
            events |= play(tmp_path / label, label, source, limit, config)
    return events


def normalised(events: Events) -> Events:
    """The script's path is the one machine-specific value: named SCRIPT in the record."""
    text = json.dumps(events, sort_keys=True).replace(f"scripted/{SCRIPT}", "scripted/SCRIPT")
    out: Events = json.loads(text)
    return out


def assert_same(expected: Events, got: Events) -> None:
    assert sorted(got) == sorted(expected)
    for episode, events in expected.items():
        for position, (old, new) in enumerate(zip(events, got[episode], strict=False)):
            assert new == old, f"{episode}: event {position} differs"
        assert len(got[episode]) == len(events), episode


@pytest.mark.slow
def test_seeded_runs_give_the_recorded_events(tmp_path: Path) -> None:
    got = normalised(offline_runs(tmp_path) | model_runs(tmp_path))
    assert_same(recorded(), got)
