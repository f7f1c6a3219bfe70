"""The single writer of a run store, and the journal of model calls in flight.

A run has exactly one writer: the process that drives it (`clinsim run`) owns a `StoreWriter`,
and everything that happens in the run reaches the store through it, as two kinds of message:

    call_finished(episode_id, event)      a `ModelCalled` event, as soon as the call returns
    episode_finished(record, events)      a finished episode: its summary row and every event

The writer is a thread with one DuckDB connection, open for the whole run. It takes messages from
a queue and writes them: each finished episode in its own transaction (its row, its events, and
the removal of its journaled calls), the calls of unfinished episodes (`pending_calls`) as soon as
they arrive, several in one transaction when they queue up. Calls go ahead of finished episodes
still queued (each episode's own messages keep their order), so a call is committed within one
episode write of its return even when many episodes finish at once. Neither
method blocks: `episode_finished` returns a `concurrent.futures.Future` that is done once the
episode is stored (or holds the `StoreError` that kept it out). Where episodes are played does
not matter: an executor that plays them in other processes or on other machines sends the same
two messages back to the driver, which stays the only writer.

Playing an episode again (after `--resume`, or a retry of a failed attempt elsewhere) starts with
`recorded_calls(episode_id)`: the calls its earlier attempt made, loaded from the store when the
writer opens and kept up to date as calls arrive. The player answers its roles' requests from
them for as long as the conversation matches (`clinsim.agents.models.replay.ResumedPool`), so no
call already paid for is made again; a call that answers the same request again is not journaled
twice, and a call that replaces a recorded one (the conversation went another way) replaces it
and the role's later recorded calls.

The writer lets readers in: between writes it looks for readers waiting on the run directory
(`clinsim.environments.store_lock`), closes its connection while they read, and opens it again
after. A store it cannot open (held by another program) keeps messages queued; what is still
unwritten when the writer is closed is reported back as not stored.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from clinsim.environments import run_store
from clinsim.environments.call_storage import call_index, call_payload, stored_payloads
from clinsim.environments.events import Event, ModelCalled, comparable
from clinsim.environments.run_store import (
    EPISODE_FIELDS,
    EpisodeRecord,
    RunStore,
    StoreError,
    connect,
    migrate,
)
from clinsim.environments.store_lock import ReaderGate
from clinsim.environments.store_rows import read_pending

POLL_S = 0.05
"""How often an idle writer looks for waiting readers."""
RETRY_S = 0.5
"""How long the writer waits before trying a store it could not open again."""


class RunWriter(Protocol):
    """What a run's driver writes through (see the module's notes)."""

    def call_finished(self, episode_id: str, event: ModelCalled) -> None: ...

    def episode_finished(self, record: EpisodeRecord, events: list[Event]) -> Future[None]: ...

    def recorded_calls(self, episode_id: str) -> list[ModelCalled]: ...

    def close(self, wait_s: float | None = None) -> dict[str, str]: ...


@dataclass
class _Call:
    episode_id: str
    event: ModelCalled
    previous: list[dict[str, Any]]
    replaces: bool


@dataclass
class _Episode:
    record: EpisodeRecord
    events: list[Event]
    done: Future[None] = field(default_factory=Future)


_Message = _Call | _Episode


class StoreWriter:
    """The run's single writer: a thread owning one connection (see the module's notes)."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._calls: dict[str, dict[tuple[str, int], ModelCalled]] = {}
        self._journaled: set[str] = set()
        self._stored: set[str] = set()
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._gate: ReaderGate | None = None
        self._failure: Exception | None = None
        self._closing = threading.Lock()
        self._migrated = False

    # ------------------------------------------------------------------ the driver's side

    def open(self) -> StoreWriter:
        """Open the store for writing now (migrating an older format) and start the thread.
        Raises `StoreError` at once when the store cannot be written."""
        self._gate = ReaderGate(self.store.run_dir)
        try:
            self._connect(wait_s=None)
            assert self._con is not None
            self._con.execute("BEGIN TRANSACTION")  # a write that touches the file: can we?
            self._con.execute("UPDATE runs SET store_format = store_format")
            self._con.execute("COMMIT")
            self._stored = {row[0] for row in self._con.execute(
                "SELECT episode_id FROM episodes WHERE run_id = ?", [self.run_id]
            ).fetchall()}  # fmt: skip
        except (duckdb.Error, StoreError) as exc:
            self._disconnect()
            self._gate.close()
            where = self.store.run_dir
            raise StoreError(f"{where}: the run store cannot be written: {exc}") from None
        self._load_journal()
        self._thread = threading.Thread(target=self._serve, name="run-store-writer", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> StoreWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recorded_calls(self, episode_id: str) -> list[ModelCalled]:
        """The calls an earlier attempt at this episode made, each role's in call order."""
        calls = self._calls.get(episode_id, {})
        return [calls[key] for key in sorted(calls)]

    def call_finished(self, episode_id: str, event: ModelCalled) -> None:
        calls = self._calls.setdefault(episode_id, {})
        key = (event.role, call_index(event))
        old = calls.get(key)
        if old is not None and comparable(old) == comparable(event):
            return  # the same call answered again from the recording
        if old is not None:  # the conversation went another way: later recorded calls are void
            for stale in [k for k in calls if k[0] == key[0] and k[1] >= key[1]]:
                del calls[stale]
        previous = calls.get((key[0], key[1] - 1))
        calls[key] = event
        self._journaled.add(episode_id)
        replaces = old is not None
        self._queue.put(_Call(episode_id, event, previous.messages if previous else [], replaces))

    def episode_finished(self, record: EpisodeRecord, events: list[Event]) -> Future[None]:
        self._calls.pop(record.episode_id, None)
        message = _Episode(record, events)
        if self._thread is None:
            _settle(message.done, StoreError(f"{record.episode_id}: the writer is closed"))
        else:
            self._queue.put(message)
        return message.done

    def close(self, wait_s: float | None = None) -> dict[str, str]:
        """Write what is queued (waiting up to `wait_s`, default LOCK_WAIT_S, for a store
        another program holds) and stop. Returns the episodes that could not be stored, each
        with the reason."""
        with self._closing:
            return self._close(wait_s)

    def _close(self, wait_s: float | None) -> dict[str, str]:
        if self._thread is None:
            return {}
        wait = run_store.LOCK_WAIT_S if wait_s is None else wait_s
        self._deadline = time.monotonic() + wait
        self._stopping.set()
        self._thread.join()
        self._thread = None
        problems = {}
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, _Episode):
                reason = str(self._failure or "the run store could not be opened in time")
                _settle(message.done, StoreError(reason))
                problems[message.record.episode_id] = reason
        if self._gate is not None:
            self._gate.close()
        return problems

    # ------------------------------------------------------------------ the writer thread

    def _serve(self) -> None:
        # pyarrow's first table loads pandas (0.3 s to a second): here, not before the first
        # episode starts; what arrives meanwhile waits in the queue
        _event_table(self.run_id, "", [])
        held: list[_Message] = []
        while True:
            stopping = self._stopping.is_set()  # before taking: all sent before close are taken
            held += self._take(wait=not held)
            if self._con is not None and self._gate is not None and self._gate.readers_waiting():
                self._disconnect()
                self._gate.wait_for_readers(self._give_up)
            blocked = False
            if held:
                held, blocked = self._write_next(held)
            if stopping and (not held or (blocked and self._give_up())):
                break
            if blocked:
                time.sleep(RETRY_S)
        for message in held:
            self._queue.put(message)  # reported by close()
        self._disconnect()

    def _take(self, wait: bool) -> list[_Message]:
        """What is queued; with `wait`, waiting up to POLL_S for the first message."""
        taken: list[_Message] = []
        try:
            taken.append(self._queue.get(timeout=POLL_S) if wait else self._queue.get_nowait())
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            return taken

    def _give_up(self) -> bool:
        return self._stopping.is_set() and time.monotonic() > self._deadline

    def _connect(self, wait_s: float | None = RETRY_S) -> None:
        if self._con is not None:
            return
        self._con = connect(self.store.path, read_only=False, wait_s=wait_s)
        if self._migrated:
            return
        try:
            migrate(self._con, self.store.run_dir)
        except BaseException:
            self._disconnect()
            raise
        self._migrated = True

    def _disconnect(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _write_next(self, messages: list[_Message]) -> tuple[list[_Message], bool]:
        """Write the queued calls, then the first finished episode; returns the messages left
        for the next round and whether the store could not be opened (all are left then).

        Calls go first, ahead of episodes queued before them: a call is committed within one
        episode write of its arrival, however many episodes finish at once. Only a call of an
        episode whose own finish is queued before it waits for that episode's write, so each
        episode's messages keep their order."""
        try:
            self._connect()
        except StoreError as exc:
            self._failure = exc
            return messages, True
        assert self._con is not None
        self._failure = None
        calls, rest = _calls_first(messages)
        if calls:
            self._write_calls(self._con, calls)
        if rest:
            first = rest.pop(0)
            assert isinstance(first, _Episode)
            self._write_episode(self._con, first)
        return rest, False

    def _write_calls(self, con: duckdb.DuckDBPyConnection, calls: list[_Call]) -> None:
        try:
            con.execute("BEGIN TRANSACTION")
            for call in calls:
                role, idx = call.event.role, call_index(call.event)
                if call.replaces:
                    con.execute(
                        "DELETE FROM pending_calls WHERE run_id = ? AND episode_id = ? "
                        "AND role = ? AND idx >= ?",
                        [self.run_id, call.episode_id, role, idx],
                    )
                payload = call_payload(call.event, call.previous)
                con.execute(
                    "INSERT INTO pending_calls VALUES (?, ?, ?, ?, ?)",
                    [self.run_id, call.episode_id, role, idx, payload],
                )
            con.execute("COMMIT")
        except (duckdb.Error, ValueError) as exc:  # a call that cannot be kept: kept nowhere
            _rollback(con)
            self._failure = StoreError(f"model calls not journaled: {exc}")

    def _write_episode(self, con: duckdb.DuckDBPyConnection, message: _Episode) -> None:
        record, run_id = message.record, self.run_id
        try:
            new_events = _event_table(run_id, record.episode_id, message.events)
            values = record.model_dump()
            con.execute("BEGIN TRANSACTION")
            if record.episode_id in self._journaled:
                con.execute(
                    "DELETE FROM pending_calls WHERE run_id = ? AND episode_id = ?",
                    [run_id, record.episode_id],
                )
            if record.episode_id in self._stored:
                for name in ("events", "episodes"):
                    con.execute(
                        f"DELETE FROM {name} WHERE run_id = ? AND episode_id = ?",
                        [run_id, record.episode_id],
                    )
            marks = ", ".join("?" * (len(EPISODE_FIELDS) + 1))
            con.execute(
                f"INSERT INTO episodes (run_id, {', '.join(EPISODE_FIELDS)}) VALUES ({marks})",
                [run_id, *(values[name] for name in EPISODE_FIELDS)],
            )
            con.from_arrow(new_events).insert_into("events")
            con.execute("COMMIT")
        except (duckdb.Error, ValueError, pa.ArrowException) as exc:  # e.g. text it cannot hold
            _rollback(con)
            _settle(message.done, StoreError(f"{record.episode_id}: {_first_line(exc)}"))
            return
        self._stored.add(record.episode_id)
        self._journaled.discard(record.episode_id)
        _settle(message.done)

    def _load_journal(self) -> None:
        assert self._con is not None
        for episode_id, calls in read_pending(self._con).items():
            self._calls[episode_id] = {(c.role, call_index(c)): c for c in calls}
            self._journaled.add(episode_id)


def _calls_first(messages: list[_Message]) -> tuple[list[_Call], list[_Message]]:
    """The calls that may be written before every queued episode, and the other messages in
    their order (the first of them, if any, a finished episode)."""
    finishing: set[str] = set()
    calls: list[_Call] = []
    rest: list[_Message] = []
    for message in messages:
        if isinstance(message, _Episode):
            finishing.add(message.record.episode_id)
            rest.append(message)
        elif message.episode_id in finishing:
            rest.append(message)
        else:
            calls.append(message)
    return calls, rest


def _event_table(run_id: str, episode_id: str, events: list[Event]) -> pa.Table:
    count = len(events)
    return pa.table(
        {
            "run_id": pa.array([run_id] * count, pa.string()),
            "episode_id": pa.array([episode_id] * count, pa.string()),
            "seq": pa.array([e.seq for e in events], pa.int32()),
            "kind": pa.array([e.kind for e in events], pa.string()),
            "turn": pa.array([e.turn for e in events], pa.int32()),
            "payload": pa.array(stored_payloads(events), pa.string()),
        }
    )


def _settle(done: Future[None], error: StoreError | None = None) -> None:
    """Tell the driver how the episode's write went, unless it stopped waiting (a cancelled
    run): the write itself happens either way."""
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
