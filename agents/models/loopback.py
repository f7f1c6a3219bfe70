"""A small OpenAI-compatible chat server on 127.0.0.1 for tests and benchmarks.

Plain asyncio HTTP/1.1: `POST .../chat/completions` and `GET /health`. It answers after a fixed
latency and can inject faults, first from a fixed sequence, then at random with a seeded rate:

- `timeout`: hold the request without answering (until `hang_s` or the server stops)
- `500`, `429`: an error status with a JSON error body
- `malformed`: status 200 with a body that is not JSON
- `drop`: close the connection without answering
- `ok`: answer normally

It is bounded: it stops by itself after `max_lifetime_s`. Use it as an async context manager, or
from another thread with `LoopbackServer.in_thread(...)`, or as a process:
`python -m clinsim.agents.models.loopback --port 8000 --latency 0.2 --fault-rate 0.1`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("timeout", "500", "429", "malformed", "drop")

Responder = Callable[[dict[str, Any]], dict[str, Any]]
"""Request body -> assistant message (`{"content": ..., "tool_calls": [...]}`)."""


def echo_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Reply `echo: <last user text>`; deterministic, so replays of it are exact."""
    last = ""
    for message in body.get("messages", []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            last = str(content or "")
    return {"content": f"echo: {last}"}


@dataclass
class LoopbackServer:
    latency_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULTS
    seed: int = 0
    hang_s: float = 30.0
    max_lifetime_s: float = 600.0
    responder: Responder = echo_responder
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    served: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        unknown = [
            kind for kind in [*self.faults, *self.fault_kinds] if kind not in (*FAULTS, "ok")
        ]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULTS)}, ok")
        self._random = random.Random(self.seed)
        self._server: asyncio.Server | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> LoopbackServer:
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stopper = asyncio.create_task(self._stop_later())
        return self

    async def _stop_later(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self.max_lifetime_s)
        await self._close()

    async def stop(self) -> None:
        self._stopped.set()
        if self._stopper is not None:
            await self._stopper

    async def _close(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=5)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _next_fault(self) -> str:
        if self.faults:
            return self.faults.pop(0)
        if self.fault_rate > 0 and self._random.random() < self.fault_rate:
            return self._random.choice(self.fault_kinds)
        return "ok"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while not self._stopped.is_set():
                request = await _read_request(reader)
                if request is None:
                    break
                if not await self._respond(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, request: tuple[str, str, bytes], writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        method, path, raw = request
        if method == "GET" and path.rstrip("/") in ("/health", "/v1/models"):
            await _write(writer, 200, b"{}")
            return True
        if method != "POST" or path.rstrip("/") not in (
            "/v1/chat/completions",
            "/chat/completions",
        ):
            await _write(writer, 404, _error_body(f"no route {method} {path}"))
            return True
        body = json.loads(raw or b"{}")
        self.requests.append(body)
        fault = self._next_fault()
        self.served.append(fault)
        if fault == "timeout":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.hang_s)
            return False
        if fault == "drop":
            return False
        await asyncio.sleep(self.latency_s)
        if fault in ("500", "429"):
            await _write(writer, int(fault), _error_body(f"injected {fault}"))
        elif fault == "malformed":
            await _write(writer, 200, b'{"choices": [{"message": ')
        else:
            await _write(writer, 200, json.dumps(self._completion(body)).encode())
        return True

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": None, **self.responder(body)}
        prompt_words = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        completion_words = len(str(message.get("content") or "").split())
        return {
            "id": f"cmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": completion_words,
                "total_tokens": prompt_words + completion_words,
            },
        }

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **options: Any) -> Iterator[LoopbackServer]:
        """Run a server on its own event loop in a daemon thread (for sync callers, the CLI)."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        server = cls(**options)

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.start())
            ready.set()
            assert server._stopper is not None
            loop.run_until_complete(server._stopper)

        thread = threading.Thread(target=serve, name="loopback-openai", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("loopback server did not start within 10 s")
        try:
            yield server
        finally:
            loop.call_soon_threadsafe(server._stopped.set)
            thread.join(10)
            loop.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    length = 0
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return method, path, await reader.readexactly(length) if length else b""


async def _write(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reasons = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Server Error"}
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)
    await writer.drain()


def _error_body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error"}}).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault", action="append", default=[], choices=[*FAULTS, "ok"])
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many s")
    args = parser.parse_args(argv)
    server = LoopbackServer(
        latency_s=args.latency,
        faults=args.fault,
        fault_rate=args.fault_rate,
        seed=args.seed,
        max_lifetime_s=args.lifetime,
        port=args.port,
        hang_s=min(30.0, args.lifetime),
    )

    async def serve() -> None:
        await server.start()
        print(f"serving {server.base_url} for at most {args.lifetime:g} s", flush=True)
        assert server._stopper is not None
        await server._stopper

    asyncio.run(serve())


if __name__ == "__main__":
    main()
