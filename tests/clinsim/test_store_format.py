"""What the run store keeps and how it reads it back: model calls stored by what is new since the
role's previous call and rebuilt exactly, the journal of calls in flight, and stores of the older
format (read as they are, migrated when resumed) or of a newer one (refused by name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.environments.events import Event, ModelCalled, QuestionAsked, append_events
from clinsim.environments.run_store import EPISODE_TYPES, EpisodeRecord, RunStore
from clinsim.environments.store_writer import StoreWriter

cli = CliRunner()
ROLES = ("doctor", "patient", "judge")


def record(episode_id: str = "e1") -> EpisodeRecord:
    return EpisodeRecord(
        episode_id=episode_id, position=0, scenario_id="s/1", reference="x",
        termination="diagnosed", detail="", diagnosis="x", correct=True, judge="rules",
        verdict_reason="", turns=1, tests=0, tool_calls=0, cost=0.0, wall_s=0.0, seed=0,
    )  # fmt: skip


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text, "images": [], "tool_calls": []}


@st.composite
def conversations(draw: st.DrawFn) -> list[Event]:
    """Model calls of several roles whose requests share prefixes with the role's previous
    call, or do not, with other events between them."""
    texts = st.text(max_size=12)
    previous: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    events: list[Event] = []
    for _ in range(draw(st.integers(1, 12))):
        role = draw(st.sampled_from(ROLES))
        before = previous.get(role, [])
        kept = before[: draw(st.integers(0, len(before)))]
        new = [message(draw(st.sampled_from(["user", "assistant"])), draw(texts))]
        new += [message("user", draw(texts)) for _ in range(draw(st.integers(0, 2)))]
        index = counts.get(role, 0)
        counts[role] = index + 1
        call = ModelCalled(
            role=role, model=f"openai/{role}", call_id=f"e1:{role}:{index}",
            messages=[*kept, *new], output=draw(texts), latency_s=0.25, turn=len(events),
        )  # fmt: skip
        previous[role] = call.messages
        events.append(call)
        if draw(st.booleans()):
            events.append(QuestionAsked(question=draw(texts), turn=len(events)))
    return append_events([], events)


@settings(max_examples=30, deadline=None)
@given(events=conversations())
def test_stored_model_calls_read_back_exactly(tmp_path_factory: Any, events: list[Event]) -> None:
    store = RunStore(tmp_path_factory.mktemp("r"))
    store.create("r", {})
    store.write_episode("r", record(), events)
    assert store.events("e1") == events
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert [call for _episode, call in store.model_calls()] == calls
    assert store.events_of(ModelCalled).get("e1", []) == calls


def _growing_episode(turns: int) -> list[Event]:
    """A doctor and a patient whose conversations grow by one exchange a turn."""
    doctor = [message("system", "You are a physician. " * 20)]
    patient = [message("system", "You are the patient. " * 20)]
    events: list[Event] = []
    for turn in range(turns):
        doctor.append(message("user", f"Patient: my answer number {turn}, about the pain " * 3))
        events.append(ModelCalled(role="doctor", model="m", call_id=f"e1:doctor:{turn}",
                                  messages=list(doctor), output=f"Question {turn}?"))  # fmt: skip
        doctor.append(message("assistant", f"Question {turn}?"))
        patient.append(message("user", f"Question {turn}?"))
        events.append(ModelCalled(role="patient", model="m", call_id=f"e1:patient:{turn}",
                                  messages=list(patient), output=f"Answer {turn}"))  # fmt: skip
        patient.append(message("assistant", f"Answer {turn}"))
    return append_events([], events)


def _stored_bytes(run_dir: Path) -> int:
    with duckdb.connect(str(run_dir / "run.duckdb"), read_only=True) as con:
        row = con.execute("SELECT sum(strlen(CAST(payload AS VARCHAR))) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_stored_size_grows_linearly_with_turns(tmp_path: Path) -> None:
    sizes = {}
    for turns in (20, 80):
        store = RunStore(tmp_path / str(turns))
        store.create("r", {})
        events = _growing_episode(turns)
        store.write_episode("r", record(), events)
        assert store.events("e1") == events
        sizes[turns] = _stored_bytes(store.run_dir)
        whole = sum(len(e.model_dump_json()) for e in events)
        assert sizes[turns] < whole
    assert sizes[80] <= 5 * sizes[20]  # whole requests would make it about 16 times


def test_the_journal_keeps_calls_in_flight_and_a_new_branch_replaces_the_old(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "r")
    store.create("r", {})
    events = [e for e in _growing_episode(4) if isinstance(e, ModelCalled)]
    with StoreWriter(store, "r") as writer:
        for event in events:
            writer.call_finished("e1", event)
        writer.call_finished("e1", events[0])  # answered again from the recording: kept once
        writer.call_finished("e2", events[0].model_copy(update={"call_id": "e2:doctor:0"}))
    pending = store.pending_calls()
    doctor = [e for e in events if e.role == "doctor"]
    patient = [e for e in events if e.role == "patient"]
    assert pending["e1"] == [*doctor, *patient]
    assert [c.call_id for c in pending["e2"]] == ["e2:doctor:0"]
    with StoreWriter(store, "r") as writer:
        assert writer.recorded_calls("e1") == [*doctor, *patient]
        branch = doctor[1].model_copy(update={"output": "another question"})
        writer.call_finished("e1", branch)  # the conversation went another way at call 1
        writer.episode_finished(record("e2"), []).result()
    assert store.pending_calls() == {"e1": [doctor[0], branch, *patient]}


OLD_SCHEMA = """
CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, created TIMESTAMP, config JSON, version VARCHAR);
CREATE TABLE episodes (run_id VARCHAR, {columns}, PRIMARY KEY (run_id, episode_id));
CREATE TABLE events (run_id VARCHAR, episode_id VARCHAR, seq INTEGER, kind VARCHAR,
    turn INTEGER, payload JSON, PRIMARY KEY (run_id, episode_id, seq));
"""


def _as_format_1(source: Path, target: Path) -> None:
    """The same run as clinsim wrote it before store formats: whole requests, no journal."""
    store = RunStore(source)
    info = store.run_info()
    target.mkdir()
    columns = ", ".join(f"{name} {kind}" for name, kind in EPISODE_TYPES.items())
    with duckdb.connect(str(target / "run.duckdb")) as con:
        con.execute(OLD_SCHEMA.format(columns=columns))
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?)",
            [info.run_id, info.created, json.dumps(info.config), "0.1.0"],
        )
        for episode in store.episodes():
            values = episode.model_dump()
            marks = ", ".join("?" * (len(values) + 1))
            con.execute(f"INSERT INTO episodes VALUES ({marks})", [info.run_id, *values.values()])
            for event in store.events(episode.episode_id):
                con.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    [info.run_id, episode.episode_id, event.seq, event.kind, event.turn,
                     event.model_dump_json()],
                )  # fmt: skip


def _clinic(body: dict[str, Any]) -> dict[str, Any]:
    if body["model"] == "pat":
        return {"content": f"I have had it for {len(body['messages'])} days."}
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    script = ["What brings you in?", "How long?", "DIAGNOSIS READY: Myasthenia gravis"]
    return {"content": script[min(turn, len(script) - 1)]}


def test_a_store_of_the_older_format_is_read_replayed_and_resumed(tmp_path: Path) -> None:
    with LoopbackServer.in_thread(responder=_clinic) as server:
        args = ["run", "agentclinic-medqa", "--doctor", "openai/doc", "--patient", "openai/pat"]
        args += ["--doctor-protocol", "agentclinic", "--base-url", server.base_url]
        args += ["--model-option", "max_retries=0"]
        made = cli.invoke(app, [*args, "--limit", "1", "--out", str(tmp_path / "new")])
        assert made.exit_code == 0, made.output
        _as_format_1(tmp_path / "new", tmp_path / "old")
        old = RunStore(tmp_path / "old")
        episode = old.episodes()[0].episode_id
        assert old.run_info().store_format == 1
        assert old.events(episode) == RunStore(tmp_path / "new").events(episode)
        resumed = cli.invoke(app, [*args, "--limit", "2", "--resume", "--out", str(old.run_dir)])
        assert resumed.exit_code == 0, resumed.output
    assert old.run_info().store_format == 2  # migrated in place
    assert old.events(episode) == RunStore(tmp_path / "new").events(episode)
    assert len(old.episodes()) == 2
    shown = cli.invoke(app, ["show", str(old.run_dir)])
    assert shown.exit_code == 0 and episode in shown.output
    for run_dir in (tmp_path / "old", tmp_path / "new"):  # the server is gone: recordings only
        rerun = cli.invoke(app, ["replay", str(run_dir), episode, "--rerun"])
        assert rerun.exit_code == 0 and "identical" in rerun.output, rerun.output


def test_a_store_of_a_newer_format_is_refused_by_name(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert cli.invoke(app, ["run", "demo", "--limit", "1", "--out", str(out)]).exit_code == 0
    with duckdb.connect(str(out / "run.duckdb")) as con:
        con.execute("UPDATE runs SET store_format = 7")
    for args in (
        ["show", str(out)],
        ["run", "demo", "--limit", "2", "--resume", "--out", str(out)],
    ):
        refused = cli.invoke(app, args)
        assert refused.exit_code == 2, refused.output
        assert "newer clinsim (run store format 7" in refused.output
        assert "reads formats 1 to 2" in refused.output


def test_export_writes_every_model_call_whole(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r")
    store.create("r", {})
    events = _growing_episode(6)
    store.write_episode("r", record(), events)
    (written,) = [p for p in store.export(tmp_path / "out", "jsonl") if p.stem == "events"]
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    payloads = [
        r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"]) for r in rows
    ]
    assert [p.get("messages") for p in payloads] == [
        e.messages for e in events if isinstance(e, ModelCalled)
    ]
    assert all("messages_prefix" not in p for p in payloads)
