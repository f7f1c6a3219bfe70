"""The `openai` backend against the loopback server: wire format, parsing, faults, retries."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ModelError,
    ToolCall,
)
from clinsim.agents.models.loopback import LoopbackServer
from clinsim.agents.models.openai import OpenAIChatModel, OpenAIConfig
from clinsim.agents.models.registry import load_model
from clinsim.environments.actions import ORDER_TEST


def _model(*urls: str, **options: Any) -> OpenAIChatModel:
    settings = OpenAIConfig(base_urls=list(urls), retry_backoff_s=0.01, **options)
    model = load_model("openai/tiny", settings)
    assert isinstance(model, OpenAIChatModel)
    return model


def _ask(text: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **options)


async def test_text_reply_usage_and_request_shape() -> None:
    async with LoopbackServer() as server:
        model = _model(server.base_url)
        request = _ask("chest pain since morning", max_tokens=7, seed=3, stop=["\n"])
        reply = await model.chat(request)
    assert reply.text == "echo: chest pain since morning"
    assert reply.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 5)
    assert reply.retries == []
    body = server.requests[0]
    assert body["model"] == "tiny"
    assert (body["max_tokens"], body["seed"], body["stop"]) == (7, 3, ["\n"])
    assert "context" not in body
    assert model.calls == 1 and model.usage_total.total_tokens == 9


async def test_tool_calls_in_and_out() -> None:
    def responder(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "order_test", "arguments": '{"test": "ECG"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "ask_patient", "arguments": "{not json"},
                },
            ]
        }

    tools = [ORDER_TEST]
    history = [
        ChatMessage(role="user", content="start"),
        ChatMessage(
            role="assistant",
            tool_calls=[ToolCall(id="c0", name="order_test", arguments={"test": "CBC"})],
        ),
        ChatMessage(role="tool", content="WBC 12", tool_call_id="c0", name="order_test"),
    ]
    async with LoopbackServer(responder=responder) as server:
        reply = await _model(server.base_url).chat(ChatRequest(messages=history, tools=tools))
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].name == "order_test"
    assert reply.tool_calls[0].arguments == {"test": "ECG"}
    assert reply.tool_calls[1].arguments == "{not json"
    sent = server.requests[0]
    assert sent["tools"][0]["type"] == "function"
    assert sent["tools"][0]["function"]["name"] == "order_test"
    parameters = sent["tools"][0]["function"]["parameters"]
    assert parameters["properties"]["test"]["type"] == "string"
    assert parameters["required"] == ["test"] and "title" not in parameters
    assistant = sent["messages"][1]
    assert assistant["content"] is None
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"test": "CBC"}
    assert sent["messages"][2]["tool_call_id"] == "c0"


async def test_images_sent_as_data_uri_parts(tmp_path: Path) -> None:
    png = tmp_path / "cxr.png"
    Image.new("RGB", (4, 4), "white").save(png)
    bmp = tmp_path / "scan.bmp"
    Image.new("RGB", (4, 4), "black").save(bmp)
    message = ChatMessage(role="user", content="describe", images=[str(png), str(bmp)])
    async with LoopbackServer() as server:
        reply = await _model(server.base_url).chat(ChatRequest(messages=[message]))
    assert reply.text == "echo: describe"
    parts = server.requests[0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    first, second = parts[1]["image_url"]["url"], parts[2]["image_url"]["url"]
    assert base64.b64decode(first.split(",", 1)[1]) == png.read_bytes()
    assert second.startswith("data:image/png;base64,")  # BMP converted to PNG


async def test_thinking_span_stripped() -> None:
    def responder(body: dict[str, Any]) -> dict[str, Any]:
        return {"content": "<unused94>thought\nlikely MI<unused95>Any radiation of the pain?"}

    async with LoopbackServer(responder=responder) as server:
        reply = await _model(server.base_url).chat(_ask("hi"))
    assert reply.text == "Any radiation of the pain?"
    assert reply.thinking == "thought\nlikely MI"


async def test_round_robin_over_base_urls() -> None:
    async with LoopbackServer() as first, LoopbackServer() as second:
        model = _model(first.base_url, second.base_url)
        for i in range(4):
            await model.chat(_ask(f"q{i}"))
    assert len(first.requests) == 2 and len(second.requests) == 2


async def test_500_and_429_then_success_records_retries() -> None:
    async with LoopbackServer(faults=["500", "429"]) as server:
        reply = await _model(server.base_url, max_retries=3).chat(_ask("again"))
    assert reply.text == "echo: again"
    assert len(reply.retries) == 2
    assert reply.retries[0].startswith("attempt 1: ") and "HTTP 500" in reply.retries[0]
    assert "HTTP 429" in reply.retries[1] and server.base_url in reply.retries[1]


async def test_timeout_is_retried_then_gives_up() -> None:
    async with LoopbackServer(faults=["timeout"]) as server:
        reply = await _model(server.base_url, timeout_s=0.3).chat(_ask("slow"))
        assert reply.text == "echo: slow"
        assert "timed out after 0.3 s" in reply.retries[0]
    async with LoopbackServer(faults=["timeout"] * 3) as server:
        with pytest.raises(ModelError, match=r"gave up after 2 attempts.*timed out") as error:
            await _model(server.base_url, timeout_s=0.3, max_retries=1).chat(_ask("slow"))
    assert [line.split(":")[0] for line in error.value.retries] == ["attempt 1", "attempt 2"]


async def test_dropped_connection_is_retried() -> None:
    async with LoopbackServer(faults=["drop", "drop"]) as server:
        reply = await _model(server.base_url).chat(_ask("x"))
    assert reply.text == "echo: x"
    assert all("connection error" in line for line in reply.retries)
    assert len(reply.retries) == 2


async def test_malformed_json_is_a_clear_model_error() -> None:
    async with LoopbackServer(faults=["malformed"]) as server:
        with pytest.raises(ModelError, match=r"malformed JSON from http://127\.0\.0\.1"):
            await _model(server.base_url).chat(_ask("x"))


async def test_client_error_is_not_retried() -> None:
    async with LoopbackServer() as server:
        model = _model(server.base_url.replace("/v1", "/nope/v1"))
        with pytest.raises(ModelError, match="refused the request: HTTP 404"):
            await model.chat(_ask("x"))
    assert server.requests == []


async def test_connection_refused_gives_up_with_reason() -> None:
    async with LoopbackServer() as server:
        url = server.base_url
    with pytest.raises(ModelError, match="connection error"):
        await _model(url, max_retries=1).chat(_ask("x"))


async def test_concurrency_limit_bounds_requests_in_flight() -> None:
    in_flight = 0
    peak = 0

    async with LoopbackServer(latency_s=0.05) as server:
        model = _model(server.base_url, max_concurrency=3)
        original = model._post

        async def counting_post(*args: Any) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await original(*args)
            finally:
                in_flight -= 1

        model._post = counting_post  # type: ignore[method-assign]
        replies = await asyncio.gather(*(model.chat(_ask(f"q{i}")) for i in range(10)))
    assert [r.text for r in replies] == [f"echo: q{i}" for i in range(10)]
    assert peak == 3


def test_missing_base_url_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="no base URL"):
        load_model("openai/medgemma", OpenAIConfig())


async def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with LoopbackServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # the request reaches the proxy with the absolute URL it is for
        proxied = _model("http://model.invalid/v1", max_retries=0)
        with pytest.raises(ModelError, match=r"no route POST http://model\.invalid/v1/chat"):
            await proxied.chat(_ask("x"))
        await proxied.aclose()
        monkeypatch.setenv("NO_PROXY", "model.invalid")
        direct = _model("http://model.invalid/v1", max_retries=0)
        with pytest.raises(ModelError, match="connection error"):
            await direct.chat(_ask("x"))
        await direct.aclose()
