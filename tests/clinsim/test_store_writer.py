"""The run's single writer commits each model call promptly: a call handed to it while finished
episodes are still queued is committed before their writes, not after them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from clinsim.cli.main import app
from clinsim.environments.events import ModelCalled
from clinsim.environments.run_store import RunStore
from clinsim.environments.store_lock import reading
from clinsim.environments.store_writer import StoreWriter

cli = CliRunner()


class TracedWriter(StoreWriter):
    """A writer that notes each transaction it writes, in order."""

    def __init__(self, store: RunStore, run_id: str):
        super().__init__(store, run_id)
        self.order: list[str] = []

    def _write_calls(self, con: duckdb.DuckDBPyConnection, calls: list[Any]) -> None:
        self.order.append("calls of " + ",".join(call.episode_id for call in calls))
        super()._write_calls(con, calls)

    def _write_episode(self, con: duckdb.DuckDBPyConnection, message: Any) -> None:
        self.order.append(message.record.episode_id)
        super()._write_episode(con, message)


def test_a_call_queued_behind_finished_episodes_is_committed_before_them(tmp_path: Path) -> None:
    played = cli.invoke(app, ["run", "demo", "--limit", "3", "--out", str(tmp_path / "r")])
    assert played.exit_code == 0, played.output
    store = RunStore(tmp_path / "r")
    finished = [(record, store.events(record.episode_id)) for record in store.episodes()]
    call = ModelCalled(
        role="doctor", model="openai/doc", call_id="later:doctor:0", output="Any fever?"
    )
    writer = TracedWriter(store, store.run_info().run_id).open()
    try:
        with reading(store.run_dir):  # the writer waits for this reader: messages queue up
            time.sleep(0.3)
            done = [writer.episode_finished(record, events) for record, events in finished]
            writer.call_finished("later", call)
        for future in done:
            future.result(timeout=30)
    finally:
        assert writer.close() == {}
    assert writer.order == ["calls of later", *(record.episode_id for record, _ in finished)]
    assert [c.call_id for c in store.pending_calls()["later"]] == ["later:doctor:0"]
    assert len(store.episodes()) == len(finished)
