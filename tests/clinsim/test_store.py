"""The run store under a reader: `clinsim show` during a run makes the writer wait, not fail."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from clinsim.environments.events import EpisodeEnded, EpisodeStarted, append_events
from clinsim.environments.run_store import EpisodeRecord, RunStore, StoreError
from clinsim.environments.termination import TerminationReason


def record(episode_id: str) -> EpisodeRecord:
    return EpisodeRecord(
        episode_id=episode_id, position=0, scenario_id="s/1", reference="x",
        termination="diagnosed", detail="", diagnosis="x", correct=True, judge="rules",
        verdict_reason="", turns=1, tests=0, tool_calls=0, cost=0.0, wall_s=0.0, seed=0,
    )  # fmt: skip


def events() -> list:  # type: ignore[type-arg]
    return append_events(
        [],
        [
            EpisodeStarted(scenario_id="s/1", seed=0, max_turns=1),
            EpisodeEnded(reason=TerminationReason.DIAGNOSED),
        ],
    )


def hold_read_lock(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    code = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE
    )
    assert reader.stdout is not None and reader.stdout.readline().strip() == b"held"
    return reader


def test_a_write_waits_for_a_reader_in_another_process(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.create("r", {"doctor": "oracle"})
    reader = hold_read_lock(store.path, 1.0)
    started = time.monotonic()
    store.write_episode("r", record("e1"), events())
    reader.wait(10)
    assert time.monotonic() - started >= 0.5
    assert [e.episode_id for e in store.episodes()] == ["e1"]
    assert [e.kind for e in store.events("e1")] == ["episode_started", "episode_ended"]


def test_a_store_that_stays_locked_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clinsim.environments.run_store

    store = RunStore(tmp_path)
    store.create("r", {})
    monkeypatch.setattr(clinsim.environments.run_store, "LOCK_WAIT_S", 0.3)
    reader = hold_read_lock(store.path, 3.0)
    try:
        with pytest.raises(StoreError, match="cannot open the run store"):
            store.write_episode("r", record("e1"), events())
    finally:
        reader.kill()


def test_reading_a_run_leaves_its_directory_as_it_was(tmp_path: Path) -> None:
    """A reader only tells a writer that is there: reading a run directory no writer has held
    (an exported copy, a finished run on a shared disk) adds no file to it."""
    store = RunStore(tmp_path / "r")
    store.create("r", {"doctor": "oracle"})
    before = sorted(p.name for p in store.run_dir.iterdir())
    assert store.run_info().run_id == "r" and store.episodes() == []
    assert sorted(p.name for p in store.run_dir.iterdir()) == before
