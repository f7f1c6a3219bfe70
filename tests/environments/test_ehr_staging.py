"""Killed EHR builds: the next build of the same file removes their temporaries, never a live
build's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from clinsim.environments.ehr.demo import demo_dir
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.environments.ehr.synth import build_synthetic

BUILD = """
import sys
from pathlib import Path
from clinsim.environments.ehr.mimic_import import build_from_mimic
from clinsim.environments.ehr.demo import demo_dir
build_from_mimic(demo_dir(), Path(sys.argv[1]))
"""

HOLD = """
import sys
from pathlib import Path
from clinsim.environments.ehr.staging import staged
with staged(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half-built")
    print("building", flush=True)
    sys.stdin.read()  # until the test closes stdin
    tmp.write_bytes(b"built")
"""


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _kill_mid_build(out: Path) -> list[str]:
    builder = subprocess.Popen([sys.executable, "-c", BUILD, str(out)])
    deadline = time.monotonic() + 60
    try:
        while not any(name.endswith(".tmp") for name in _temporaries(out.parent)):
            assert builder.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.2)  # let it write into the temporary file
    finally:
        builder.send_signal(signal.SIGKILL)
        builder.wait()
    return _temporaries(out.parent)


def test_a_later_build_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    out = tmp_path / "ehr.duckdb"
    left = _kill_mid_build(out)
    assert any(name.endswith(".tmp") for name in left), left
    assert not out.exists()
    legacy = tmp_path / f".ehr.duckdb.{_dead_pid()}.tmp"  # as builds before the lock left them
    legacy.write_bytes(b"x" * 1000)
    Path(f"{legacy}.wal").write_bytes(b"x")
    build_from_mimic(demo_dir(), out)
    assert _temporaries(tmp_path) == []
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patients").fetchone() == (100,)


def test_a_live_build_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "ehr.duckdb"
    live = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None and live.stdout.readline() == "building\n"
        held = _temporaries(tmp_path)
        legacy_live = tmp_path / f".ehr.duckdb.{live.pid}.tmp"  # no lock, but its pid runs
        legacy_live.write_bytes(b"x")
        build_synthetic(out, 20)  # another build of the same file meanwhile
        assert set(held) <= set(_temporaries(tmp_path))
        assert legacy_live.exists()
        assert live.stdin is not None
        live.stdin.close()
        assert live.wait(30) == 0
    finally:
        if live.poll() is None:
            live.kill()
    assert out.read_bytes() == b"built"  # the live build finished and replaced the file
    assert _temporaries(tmp_path) == [legacy_live.name]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    for _ in range(100):
        try:
            os.kill(child.pid, 0)
        except ProcessLookupError:
            return child.pid
        time.sleep(0.01)
    raise AssertionError("no dead pid found")
