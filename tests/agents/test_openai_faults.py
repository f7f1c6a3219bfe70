"""The `openai` backend against real loopback sockets: a dead server stops the run at once with
its address, every attempt of a call is recorded whatever ends it, and a server that echoes the
API key never gets the key into anything stored or printed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from episodes import in_episode
from typer.testing import CliRunner

from clinsim.agents.llm.recording import call_model
from clinsim.agents.models.base import ChatMessage, ChatRequest, ModelError
from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.models.openai import OpenAIChatModel, OpenAIConfig
from clinsim.cli.main import app
from clinsim.environments.events import ModelCalled
from clinsim.environments.roles import RoleFailure

KEY = "sk-clinsim-test-7f3a9c41d2e8b6"


def _model(url: str, **options: Any) -> OpenAIChatModel:
    settings = OpenAIConfig(base_urls=[url], retry_backoff_s=0.01, **options)
    return OpenAIChatModel("tiny", settings)


def _ask(text: str = "x") -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ every attempt is recorded


@pytest.mark.parametrize(
    ("faults", "last"),
    [
        (["500", "429", "malformed"], "malformed JSON"),
        (["drop", "malformed"], "malformed JSON"),
        (["500", "500", "500", "500"], "HTTP 500"),
    ],
)
async def test_every_attempt_is_recorded_whatever_ends_the_call(
    faults: list[str], last: str
) -> None:
    async with LoopbackServer(faults=list(faults)) as server:
        model = _model(server.base_url, max_retries=3)
        with in_episode() as events, pytest.raises(RoleFailure):
            await call_model(model, _ask(), "doctor")
    (event,) = events
    assert isinstance(event, ModelCalled)
    assert len(event.retries) == len(faults)
    assert [line.split(":")[0] for line in event.retries] == [
        f"attempt {n}" for n in range(1, len(faults) + 1)
    ]
    assert last in event.retries[-1] and last in (event.error or "")


async def test_a_refusal_after_retries_keeps_the_retries() -> None:
    async with LoopbackServer(faults=["500"]) as server:
        model = _model(server.base_url.replace("/v1", "/nope/v1"), max_retries=2)
        with pytest.raises(ModelError) as error:
            await model.chat(_ask())
    assert len(error.value.retries) == 1 and "HTTP 404" in error.value.retries[0]


# ------------------------------------------------------------------ a dead server


async def test_check_names_the_unreachable_server() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(ModelError, match=rf"cannot reach .*{url}.*Cannot connect to host"):
        await _model(url).check()
    assert time.perf_counter() - started < 5
    async with LoopbackServer() as server:
        await _model(server.base_url).check()  # a live server passes


def test_run_against_a_dead_server_stops_before_the_first_episode(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    out = tmp_path / "r"
    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        ["run", "agentclinic-medqa", "--doctor", "openai/m", "--base-url", url, "--out", str(out)],
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code != 0
    assert url in result.output and "cannot reach" in result.output
    assert elapsed < 10
    assert not (out / "run.duckdb").exists()


def test_a_run_whose_every_episode_failed_the_same_way_exits_non_zero(tmp_path: Path) -> None:
    with LoopbackServer.in_thread(fault_rate=1.0, fault_kinds=("500",)) as server:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "agentclinic-medqa",
                "--limit",
                "3",
                "--doctor",
                "openai/m",
                "--base-url",
                server.base_url,
                "--model-option",
                "max_retries=0",
                "--out",
                str(tmp_path / "r"),
            ],
        )
    assert result.exit_code == 1, result.output
    assert "every episode (3) ended with a model error" in result.output
    assert "HTTP 500" in result.output


# ------------------------------------------------------------------ the key is never kept


class EchoKeyServer:
    """Answers every request with its Authorization header echoed: in a 500 body, then in a
    401 body, a non-JSON 200 body, or a normal completion, as `mode` says."""

    def __init__(self, mode: str, failures_first: int = 0):
        self.mode = mode
        self.failures_first = failures_first
        self.seen = 0

    def answer(self, auth: str, path: str) -> tuple[int, bytes]:
        if path.endswith("/models"):
            if self.mode == "refuse models":
                return 401, json.dumps({"error": f"unknown key {auth}"}).encode()
            return 200, b'{"data": []}'
        self.seen += 1
        if self.seen <= self.failures_first:
            return 500, json.dumps({"error": f"bad gateway for {auth}"}).encode()
        if self.mode == "refuse":
            return 401, json.dumps({"error": f"invalid key {auth}"}).encode()
        if self.mode == "malformed":
            return 200, f"oops {auth} {{".encode()
        content = f"your header was {auth}. Diagnosis: {auth}"
        choice = {"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        return 200, json.dumps({"choices": [choice], "usage": {}}).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                line = await reader.readline()
                if not line:
                    break
                path = line.decode("latin-1").split(" ")[1]
                auth, length = "", 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "authorization":
                        auth = value.strip()
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                status, body = self.answer(auth, path)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                await writer.drain()
        writer.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        stop = asyncio.Event()
        port: list[int] = []

        async def main() -> None:
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 120)
            server.close()

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10)
        try:
            yield f"http://127.0.0.1:{port[0]}/v1"
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(10)


@pytest.mark.parametrize("mode", ["refuse", "malformed", "reply"])
def test_an_echoed_api_key_is_never_stored_or_printed(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "r"
    server = EchoKeyServer(mode, failures_first=1)
    with server.running() as url:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "agentclinic-medqa",
                "--limit",
                "2",
                "--max-turns",
                "2",
                "--doctor",
                "openai/m",
                "--base-url",
                url,
                "--api-key",
                KEY,
                "--model-option",
                "retry_backoff_s=0.01",
                "--out",
                str(out),
            ],
        )
        shown = CliRunner().invoke(app, ["show", str(out), "--json"])
    assert server.seen >= 2  # the server did echo the key, at least once in a retried 500
    assert KEY not in result.output and KEY not in shown.output
    with duckdb.connect(str(out / "run.duckdb"), read_only=True) as con:
        stored = con.execute(
            "SELECT string_agg(detail, ' ') FROM episodes UNION ALL "
            "SELECT string_agg(payload, ' ') FROM events UNION ALL "
            "SELECT string_agg(config, ' ') FROM runs"
        ).fetchall()
    text = " ".join(str(row[0]) for row in stored)
    assert "[api key]" in text
    assert KEY not in text


async def test_the_key_is_redacted_from_errors_and_replies_at_the_backend() -> None:
    for mode in ("refuse", "malformed"):
        with EchoKeyServer(mode, failures_first=2).running() as url:
            model = _model(url, api_key=KEY, max_retries=3)
            with pytest.raises(ModelError) as error:
                await model.chat(_ask())
        assert KEY not in str(error.value) and KEY not in " ".join(error.value.retries)
        assert error.value.__cause__ is None and error.value.__context__ is None
    with EchoKeyServer("reply").running() as url:
        reply = await _model(url, api_key=KEY).chat(_ask())
    assert reply.text == "your header was Bearer [api key]. Diagnosis: Bearer [api key]"


async def test_a_server_that_refuses_the_key_stops_the_check_without_showing_it() -> None:
    with (
        EchoKeyServer("refuse models").running() as url,
        pytest.raises(ModelError, match="refused the API key: HTTP 401") as error,
    ):
        await _model(url, api_key=KEY).check()
    assert KEY not in str(error.value) and "[api key]" in str(error.value)
