"""The parent's side of the EHR sandbox: a few worker processes holding the sealed views.

A worker (`sandbox_worker.py`) limits its own memory with `setrlimit` before it reads a request,
so no query can make it, let alone this process, grow past the limit; a query that outruns its
time limit is interrupted inside the worker, and the worker is killed when it has not answered
shortly after. Each view is placed in one of `POOL_SIZE` workers (started once, so sealing a
view costs no process start) and keeps what it needs to seal itself again: when its worker is
killed or dies, its views are sealed anew in a fresh worker on their next request, so a query
that brings a worker down delays the other views there but changes none of their answers.
Replies are unpickled with only plain values and the date, time and decimal types allowed.
"""

from __future__ import annotations

import atexit
import io
import itertools
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("sandbox_worker.py")
POOL_SIZE = 4
MAX_REPLY_BYTES = 64 * 2**20
SEAL_TIMEOUT_S = 120.0
_HEADER = struct.Struct(">Q")
_MEMORY_SIGNALS = {-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGKILL}


class WorkerError(Exception):
    """The worker answered with an error; the message is what the doctor may see."""


class WorkerTimedOut(Exception):
    """The worker did not answer in time and was killed."""


class WorkerDied(Exception):
    """The worker ended while it held a request (most often: it ran out of memory)."""

    def __init__(self, returncode: int | None):
        super().__init__(f"the EHR sandbox process ended (exit status {returncode})")
        self.returncode = returncode

    @property
    def out_of_memory(self) -> bool:
        return self.returncode in _MEMORY_SIGNALS


class _Unpickler(pickle.Unpickler):
    _ALLOWED = frozenset(
        {
            ("datetime", "datetime"),
            ("datetime", "date"),
            ("datetime", "time"),
            ("datetime", "timedelta"),
            ("decimal", "Decimal"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"the EHR sandbox sent a {module}.{name}")
        return super().find_class(module, name)


class WorkerProcess:
    """One worker: started at once, asked one request at a time (the caller serialises)."""

    def __init__(self, data_bytes: int, address_bytes: int):
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(data_bytes), str(address_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def request(self, message: tuple[Any, ...], timeout_s: float) -> Any:
        """Send one request and return the reply's payload within `timeout_s`; raises
        WorkerError (an error reply), WorkerTimedOut (killed) or WorkerDied."""
        deadline = time.monotonic() + timeout_s
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._send(_HEADER.pack(len(payload)) + payload)
        (length,) = _HEADER.unpack(self._receive(_HEADER.size, deadline))
        if length > MAX_REPLY_BYTES:
            self.stop()
            raise WorkerError("query failed: the EHR sandbox sent an oversized reply")
        try:
            reply = _Unpickler(io.BytesIO(self._receive(length, deadline))).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            self.stop()
            raise WorkerError(
                f"query failed: unreadable reply from the EHR sandbox: {exc}"
            ) from None
        if not isinstance(reply, tuple) or len(reply) != 3:
            self.stop()
            raise WorkerError("query failed: unreadable reply from the EHR sandbox")
        status, body, retire = reply
        if retire:
            self.stop()  # it ends by itself; the next request gets a fresh worker
        if status != "ok":
            raise WorkerError(str(body))
        return body

    def _send(self, data: bytes) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(stdin.fileno(), view) :]
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise WorkerDied(self._reap()) from None

    def _receive(self, size: int, deadline: float) -> bytes:
        stdout = self._proc.stdout
        assert stdout is not None
        chunks: list[bytes] = []
        missing = size
        while missing:
            remaining = deadline - time.monotonic()
            ready = select.select([stdout], [], [], max(remaining, 0))[0] if remaining > 0 else []
            if not ready:
                self.stop()
                raise WorkerTimedOut()
            chunk = os.read(stdout.fileno(), min(missing, 1 << 20))
            if not chunk:
                raise WorkerDied(self._reap())
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _reap(self) -> int | None:
        try:
            return self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            return self._proc.returncode

    def stop(self) -> None:
        """End the worker now (idempotent)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()


class Slot:
    """One place in the pool: a worker (started when needed) and the views sealed in it.
    Requests through a slot run one at a time."""

    def __init__(self, data_bytes: int, address_bytes: int):
        self._limits = (data_bytes, address_bytes)
        self._lock = threading.Lock()
        self._worker: WorkerProcess | None = None
        self._sealed: set[int] = set()
        self._dropped: list[int] = []

    def pid_of(self, view: int) -> int | None:
        worker = self._worker
        alive = worker is not None and worker.alive and view in self._sealed
        return worker.pid if alive and worker is not None else None

    def seal(self, view: int, spec: dict[str, Any]) -> None:
        with self._lock:
            self._sealed_in_worker(view, spec)

    def request(
        self, view: int, spec: dict[str, Any], message: tuple[Any, ...], timeout_s: float
    ) -> Any:
        """Send `message` for `view` (sealing it first where its worker is new)."""
        with self._lock:
            worker = self._sealed_in_worker(view, spec)
            try:
                return worker.request(message, timeout_s)
            except (WorkerTimedOut, WorkerDied):
                self._discard()
                raise

    def release(self, view: int) -> None:
        """Forget a view (called from finalizers: takes no lock; the drop travels later)."""
        self._dropped.append(view)

    def stop(self) -> None:
        with self._lock:
            self._discard()

    def _sealed_in_worker(self, view: int, spec: dict[str, Any]) -> WorkerProcess:
        if self._worker is None or not self._worker.alive:
            self._discard()
            self._worker = WorkerProcess(*self._limits)
        worker = self._worker
        gone = []
        while self._dropped:  # finalizers may append meanwhile; pop is atomic
            dropped = self._dropped.pop()
            if dropped in self._sealed:
                gone.append(dropped)
        try:
            if gone:
                worker.request(("drop", gone), SEAL_TIMEOUT_S)
                self._sealed.difference_update(gone)
            if view not in self._sealed:
                self._seal_in(worker, view, spec)
        except (WorkerTimedOut, WorkerDied):
            self._discard()
            raise
        return self._worker if self._worker is not None else worker

    def _seal_in(self, worker: WorkerProcess, view: int, spec: dict[str, Any]) -> None:
        try:
            worker.request(("seal", view, spec), SEAL_TIMEOUT_S)
        except WorkerError:
            if worker.alive:
                raise  # a real refusal (no such patient, not an EHR file)
            self._discard()  # full: it retired; seal in a fresh worker, the others follow later
            self._worker = worker = WorkerProcess(*self._limits)
            worker.request(("seal", view, spec), SEAL_TIMEOUT_S)
        self._sealed.add(view)

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._worker = None
        self._sealed.clear()


class Pool:
    """`POOL_SIZE` slots with the same limits; views are placed round-robin."""

    def __init__(self, data_bytes: int, address_bytes: int):
        self._slots = [Slot(data_bytes, address_bytes) for _ in range(POOL_SIZE)]
        self._next = itertools.cycle(self._slots)
        self._lock = threading.Lock()

    def place(self) -> Slot:
        with self._lock:
            return next(self._next)

    def stop(self) -> None:
        for slot in self._slots:
            slot.stop()


_POOLS: dict[tuple[int, int], Pool] = {}
_POOLS_LOCK = threading.Lock()


def pool(data_bytes: int, address_bytes: int) -> Pool:
    """The process's pool of workers with these limits."""
    with _POOLS_LOCK:
        key = (data_bytes, address_bytes)
        if key not in _POOLS:
            _POOLS[key] = Pool(data_bytes, address_bytes)
        return _POOLS[key]


@atexit.register
def _stop_pools() -> None:
    with _POOLS_LOCK:
        for each in _POOLS.values():
            each.stop()
