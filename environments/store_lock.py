"""Who may use a run directory: one writing process at a time, and readers that take turns
with it.

`run.lock`   The process that writes a run (`clinsim run`, a fork) holds an exclusive lock on
             it for as long as it writes; a second writer is refused at once, naming the holder.
             The operating system drops the lock when its process dies, however it dies.
`read.lock`  DuckDB lets one process at a time open the store for writing, and the writer keeps
             its connection open for the whole run. A reader (`clinsim show` during a run) holds a
             shared lock on this file while it reads; the writer checks for one between writes,
             closes its connection while any is there, and opens it again after.

Both are `flock` locks (POSIX): released with their file descriptor, never left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from clinsim.environments.store_schema import StoreError

RUN_LOCK_FILE = "run.lock"
READ_LOCK_FILE = "read.lock"


class RunLocked(StoreError):
    """Another process is writing to the run directory."""


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


class RunLock:
    """An exclusive lock on a run directory, held by the one process that writes the run."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / RUN_LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock now or raise `RunLocked`; `OSError` if the directory is not writable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLocked(
                    f"{self.path.parent} is being written by another clinsim process"
                    f"{_holder(self.path)}: wait for it to finish, or choose another --out"
                ) from None
            if _same_file(fd, self.path):  # not a file another process removed meanwhile
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def reading(run_dir: Path) -> Iterator[None]:
    """Tell a writer of the run that a reader is waiting, for as long as the block runs. A
    directory no writer of this kind has opened (no `read.lock`), or that the reader cannot
    write to, has no writer to tell: the block just runs."""
    try:
        fd = os.open(run_dir / READ_LOCK_FILE, os.O_RDWR)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


class ReaderGate:
    """The writer's side of `read.lock`: are readers waiting, and waiting until they are gone."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / READ_LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def readers_waiting(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False

    def wait_for_readers(self, give_up: Callable[[], bool], poll_s: float = 0.02) -> bool:
        """Wait until no reader holds the gate; False if `give_up()` said stop first."""
        while self.readers_waiting():
            if give_up():
                return False
            time.sleep(poll_s)
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
