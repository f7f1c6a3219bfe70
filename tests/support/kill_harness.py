"""Killing `clinsim run` mid-episode and resuming it, against a loopback model server that counts
which requests it answered and when.

`Clinic` plays a deterministic AgentClinic-protocol doctor and a patient; each answered request
is kept with the time its reply was made. `hold()` stops the server from answering (requests wait)
so a kill can land at a moment when every answered call has had time to reach the store.
A call is *repeated* when a request answered before the kill is asked again after it: a paid call
made twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = [
    "What brings you in today?",
    "How long has it been going on?",
    "Any fever or weight loss?",
    "Any medications?",
    "REQUEST TEST: Blood tests",
    "DIAGNOSIS READY: Myasthenia gravis",
]


def request_key(body: dict[str, Any]) -> str:
    return json.dumps([body.get("model"), body.get("messages")], sort_keys=True)


def conversation_key(model: str, messages: list[dict[str, Any]]) -> str:
    """The same for a request on the wire and the `ModelCalled` event that recorded it."""
    return json.dumps([model, [(m.get("role"), m.get("content")) for m in messages]])


@dataclass
class Clinic:
    """The loopback server's responder (see the module's notes)."""

    answered: list[tuple[float, str]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    replied_at: dict[str, float] = field(default_factory=dict)
    """Conversation (`conversation_key`) -> wall-clock time its reply was made."""
    _open: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._open.set()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        key = request_key(body)
        self._open.wait(60)
        with self._lock:
            self.asked.append(key)
        messages = body["messages"]
        if body["model"] == "pat":
            reply = f"I have had it for {len(messages)} days."
        else:
            turn = sum(m["role"] == "assistant" for m in messages)
            reply = SCRIPT[min(turn, len(SCRIPT) - 1)]
        with self._lock:
            self.answered.append((time.monotonic(), key))
            self.replied_at[conversation_key(body["model"], messages)] = time.time()
        return {"content": reply}

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def reset(self) -> None:
        with self._lock:
            self.answered.clear()
            self.asked.clear()

    def count(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(at > since for at, _key in self.answered)


def clinsim() -> str:
    return str(Path(sys.executable).with_name("clinsim"))


def run_args(base_url: str, out: Path, limit: int, concurrency: int) -> list[str]:
    return [
        clinsim(), "run", "agentclinic-medqa", "--limit", str(limit),
        "--doctor", "openai/doc", "--patient", "openai/pat", "--doctor-protocol", "agentclinic",
        "--base-url", base_url, "--model-option", "max_retries=0",
        "--max-concurrency", str(concurrency), "--out", str(out),
    ]  # fmt: skip


def start(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def kill_when(
    proc: subprocess.Popen[bytes],
    clinic: Clinic,
    answered: int,
    settle_s: float | None,
    then_s: float = 0.0,
) -> float | None:
    """SIGKILL `proc` once the server has answered `answered` calls (and `then_s` seconds more
    have passed). With `settle_s`, the server stops answering first and the kill waits that long
    (answered calls reach the store); without, it lands at once. Returns the kill's time
    (monotonic), or None when the run finished (successfully) first."""
    started = time.monotonic()
    deadline = started + 120
    while clinic.count(since=started) < answered:
        if proc.poll() == 0:
            return None
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the run ended before {answered} answers: {_output(proc)}")
        time.sleep(0.002)
    time.sleep(then_s)
    if proc.poll() == 0:
        return None
    if settle_s is not None:
        clinic.hold()
        time.sleep(settle_s)
    killed = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    clinic.release()
    return killed


def _output(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        return "(still running)"
    assert proc.stdout is not None
    return proc.stdout.read().decode(errors="replace")[-2000:]


def finish(args: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(args, capture_output=True, env=env, timeout=timeout_s, check=False)


@dataclass
class Attempt:
    """One run until its kill (or its end): the calls answered before the kill (key -> when),
    every request that reached the server, and when the kill landed."""

    paid: dict[str, float]
    asked: list[str]
    killed: float


def attempt(clinic: Clinic, requests: list[dict[str, Any]], killed: float | None) -> Attempt:
    """Close an attempt: what `clinic` answered before `killed` and what reached the server
    (`requests`: the server's request log of this attempt). Resets the clinic."""
    end = float("inf") if killed is None else killed
    deadline = time.monotonic() + 30
    while clinic.count() < len(requests) and time.monotonic() < deadline:
        time.sleep(0.01)  # requests caught by the kill are answered (to nobody) before the next
    paid = {key: at for at, key in clinic.answered if at <= end}
    clinic.reset()
    return Attempt(paid, [request_key(body) for body in requests], end)


@dataclass
class Repeats:
    """Calls answered before a kill and asked again in a later attempt."""

    paid: int
    repeated: int
    repeated_within: dict[float, int]
    """Of the repeated calls, how many were answered less than S seconds before their kill."""


def repeats(attempts: list[Attempt]) -> list[Repeats]:
    """For each killed attempt (all but the last), its paid calls asked again later."""
    found = []
    for number, paid in enumerate(attempts[:-1]):
        later = {key for after in attempts[number + 1 :] for key in after.asked}
        again = [key for key in paid.paid if key in later]
        within = {
            s: sum(paid.killed - paid.paid[key] < s for key in again) for s in (0.01, 0.05, 0.2)
        }
        found.append(Repeats(len(paid.paid), len(again), within))
    return found
