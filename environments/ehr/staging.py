"""Build a database file under a temporary name beside it, then move it into place.

A build writes `.<name>.<pid>-<tag>.tmp` (DuckDB adds `.tmp.wal`) while it holds an exclusive
lock on `.<name>.<pid>-<tag>.lock`; when it succeeds the temporary file replaces `<name>` in one
rename. A build that is killed half way leaves its temporaries behind. The next build of the same
file removes them when their builder is gone: its lock can be taken, or (for temporaries without
a lock file, as older builds left them) no process has its pid. A live build's files are never
touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

_SUFFIXES = (".tmp", ".tmp.wal", ".lock")


def _files(out: Path, token: str) -> list[Path]:
    return [out.with_name(f".{out.name}.{token}{suffix}") for suffix in _SUFFIXES]


def _tokens(out: Path) -> set[str]:
    suffixes = "|".join(re.escape(suffix) for suffix in _SUFFIXES)
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(\d+(?:-[0-9a-f]+)?)(?:{suffixes})$")
    found = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(out.parent):
            match = pattern.match(entry.name)
            if match:
                found.add(match.group(1))
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _remove_if_abandoned(out: Path, token: str) -> bool:
    tmp, wal, lock = _files(out, token)
    try:
        handle = lock.open("rb")
    except FileNotFoundError:
        if _pid_alive(int(token.split("-")[0])):
            return False
        tmp.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its builder is still running
        tmp.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
    return True


def remove_abandoned(out: Path) -> int:
    """Remove the temporaries that killed builds of `out` left; returns how many builds'."""
    return sum(_remove_if_abandoned(out, token) for token in sorted(_tokens(Path(out))))


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A temporary path to build `out` in; it replaces `out` when the block ends normally and
    is removed when it raises. Temporaries of earlier, killed builds are removed first."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp, wal, lock = _files(out, token)
    with lock.open("wb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield tmp
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
            wal.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)  # still held: no other build can take it meanwhile
