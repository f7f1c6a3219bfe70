"""The run directory under attack: killed while its store is created, two runs into it at once,
a read-only store resumed, a reader holding the store in the middle of a run."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.cli.main import app
from clinsim.environments.events import EpisodeStarted
from clinsim.environments.run_store import RunStore

cli = CliRunner()
CLINSIM = str(Path(sys.executable).with_name("clinsim"))

CREATING = """
import sys
from pathlib import Path
from clinsim.environments.run_store import RunStore
root = Path(sys.argv[1])
print("ready", flush=True)
for n in range(10_000):
    RunStore(root / f"d{n}").create("r", {"doctor": "oracle"})
"""


def test_a_store_killed_while_being_created_is_never_half_made(tmp_path: Path) -> None:
    for attempt in range(6):
        root = tmp_path / f"k{attempt}"
        proc = subprocess.Popen([sys.executable, "-c", CREATING, str(root)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.07 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        made = sorted(root.glob("d*"))
        assert made, "nothing was created before the kill"
        for run_dir in made:
            store = RunStore(run_dir)
            if store.path.exists():  # there, then whole
                assert store.run_info().run_id == "r"
            else:  # not there: the directory is free for a run, temporaries are cleared
                store.create("again", {})
                assert [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_an_empty_store_left_by_an_older_clinsim_counts_as_no_run(tmp_path: Path) -> None:
    for run_dir in (tmp_path / "a", tmp_path / "b"):
        run_dir.mkdir()
        duckdb.connect(str(run_dir / "run.duckdb")).close()  # no tables, no run row
    shown = cli.invoke(app, ["show", str(tmp_path / "a")])
    assert shown.exit_code == 2 and "holds no run" in shown.output
    fresh = cli.invoke(app, ["run", "demo", "--limit", "2", "--out", str(tmp_path / "a")])
    assert fresh.exit_code == 0, fresh.output
    resumed = cli.invoke(
        app, ["run", "demo", "--limit", "2", "--resume", "--out", str(tmp_path / "b")]
    )
    assert resumed.exit_code == 0, resumed.output
    assert len(RunStore(tmp_path / "a").episodes()) == len(RunStore(tmp_path / "b").episodes())


def _hold_lock(run_dir: Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys, time; from pathlib import Path; "
        "from clinsim.environments.store_lock import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    return holder


def test_a_second_writer_is_refused_at_once_and_the_lock_dies_with_its_holder(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "r"
    holder = _hold_lock(run_dir)
    try:
        second = cli.invoke(app, ["run", "demo", "--limit", "1", "--out", str(run_dir)])
        assert second.exit_code == 2
        assert f"being written by another clinsim process (pid {holder.pid})" in second.output
        assert not (run_dir / "run.duckdb").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    after = cli.invoke(app, ["run", "demo", "--limit", "1", "--out", str(run_dir)])
    assert after.exit_code == 0, after.output


def test_two_runs_into_one_directory_never_mix(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    runs = [
        subprocess.Popen(
            [
                CLINSIM,
                "run",
                "agentclinic-medqa",
                "--limit",
                "20",
                "--doctor",
                doctor,
                "--out",
                out,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for doctor in ("baseline", "oracle")
    ]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 2], outputs
    refused = outputs[[run.returncode for run in runs].index(2)]
    assert "being written by another clinsim process" in refused or "already holds" in refused
    store = RunStore(out)
    doctor = store.run_info().config["run"]["doctor"]
    starts = [store.events(record.episode_id)[0] for record in store.episodes()]
    played = {start.agents["doctor"] for start in starts if isinstance(start, EpisodeStarted)}
    assert played == {doctor} and len(starts) == 20


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a directory and its files unwritable, even for root (immutable attribute)."""
    targets = [path, *path.iterdir()]
    if os.geteuid() != 0:
        for target in targets:
            target.chmod(0o555 if target.is_dir() else 0o444)
        try:
            yield
        finally:
            for target in targets:
                target.chmod(0o755 if target.is_dir() else 0o644)
        return
    chattr = shutil.which("chattr")
    made = chattr and subprocess.run([chattr, "+i", *map(str, targets)], check=False).returncode
    if made != 0:
        pytest.skip("cannot make a directory read-only here (root without chattr +i)")
    try:
        yield
    finally:
        subprocess.run([str(chattr), "-i", *map(str, targets)], check=True)


def test_resuming_into_a_read_only_store_fails_before_playing(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    first = cli.invoke(app, ["run", "agentclinic-medqa", "--limit", "2", "--out", out])
    assert first.exit_code == 0, first.output
    with read_only(tmp_path / "r"):
        started = time.monotonic()
        again = cli.invoke(
            app, ["run", "agentclinic-medqa", "--limit", "60", "--resume", "--out", out]
        )
        took = time.monotonic() - started
    assert again.exit_code == 2, again.output
    assert "cannot" in again.output and str(tmp_path / "r") in again.output
    assert "Run store:" not in again.output  # nothing was played or summarised
    assert took < 20
    assert len(RunStore(out).episodes()) == 2


def _reader_that_waits_for_an_episode(run_dir: Path, hold_s: float) -> subprocess.Popen[bytes]:
    """A `clinsim show`-like reader: polls the run until one episode is stored, then keeps the
    store open for `hold_s` seconds."""
    code = f"""
import sys, time
from pathlib import Path
from clinsim.environments.run_store import RunStore, StoreError
from clinsim.environments.store_lock import reading
from clinsim.environments import run_store
import duckdb
store = RunStore(Path(sys.argv[1]))
print("polling", flush=True)
while True:
    try:
        if store.path.exists() and store.episodes():
            break
    except StoreError:
        pass
    time.sleep(0.02)
with reading(store.run_dir):
    con = run_store.connect(store.path, read_only=True)
    print("holding", flush=True)
    time.sleep({hold_s})
"""
    reader = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE)
    assert reader.stdout is not None and reader.stdout.readline().strip() == b"polling"
    return reader


def _slow_doctor(body: dict[str, object]) -> dict[str, object]:
    return {"content": "DIAGNOSIS READY: Myasthenia gravis"}


def test_a_reader_holding_the_store_past_the_wait_fails_the_run_and_resume_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clinsim.environments.run_store

    monkeypatch.setattr(clinsim.environments.run_store, "LOCK_WAIT_S", 0.5)
    out = tmp_path / "r"
    reader = _reader_that_waits_for_an_episode(out, hold_s=6.0)
    with LoopbackServer.in_thread(responder=_slow_doctor, latency_s=0.8) as server:
        args = ["run", "agentclinic-medqa", "--limit", "3", "--doctor", "openai/doc"]
        args += ["--doctor-protocol", "agentclinic", "--base-url", server.base_url]
        args += ["--model-option", "max_retries=0", "--out", str(out)]
        held = cli.invoke(app, args)
        assert reader.stdout is not None and reader.stdout.readline().strip() == b"holding"
        reader.wait(30)
        assert held.exit_code == 1, held.output
        assert "could not be stored" in held.output and "--resume" in held.output
        assert "not stored: agentclinic-medqa/000" in held.output
        kept = len(RunStore(out).episodes())
        assert 1 <= kept < 3
        resumed = cli.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert len(RunStore(out).episodes()) == 3


def test_a_reader_gets_in_while_the_writer_holds_the_store(tmp_path: Path) -> None:
    from clinsim.environments.store_writer import StoreWriter

    run = cli.invoke(app, ["run", "demo", "--limit", "2", "--out", str(tmp_path / "r")])
    assert run.exit_code == 0, run.output
    store = RunStore(tmp_path / "r")
    code = (
        "import sys; from clinsim.environments import run_store; run_store.LOCK_WAIT_S = 5; "
        "print(len(run_store.RunStore(sys.argv[1]).episodes()))"
    )
    with StoreWriter(store, store.run_info().run_id):  # holds its connection open
        read = subprocess.run(
            [sys.executable, "-c", code, str(store.run_dir)], capture_output=True, timeout=60
        )
    assert read.returncode == 0, read.stderr.decode()
    assert read.stdout.strip() == b"2"
