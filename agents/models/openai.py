"""Provider `openai`: any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp, TGI).

`openai/<served-model-name>` with `base_urls` (several are served round-robin, one URL per
attempt). Each attempt has its own timeout; 429, 5xx, connection errors and timeouts are retried
with exponential backoff up to `max_retries` times, each retry recorded as one line in
`ChatResponse.retries`. At most `max_concurrency` requests are in flight per model instance.
Settings: `OpenAIConfig`.

Every attempt of a call is one line in `retries` (or `ModelError.retries`), whatever ends the call.
The configured API key is replaced by `[api key]` in everything the backend returns or raises
(replies, error messages, retry lines), so a server that echoes it cannot get it stored.
`check()` asks each endpoint for `/models` with a short timeout before a run.
Requests go through `clinsim.agents.models.http` (aiohttp).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import Field, JsonValue, SecretStr

from clinsim.agents.models.base import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelError,
    ToolCall,
    Usage,
)
from clinsim.agents.models.http import (
    Reply,
    abandon,
    json_bytes,
    problem,
    proxy_for,
    read_reply,
    session,
)
from clinsim.agents.models.images import image_data_uri
from clinsim.agents.models.registry import backend
from clinsim.agents.models.thinking import split_thinking
from clinsim.agents.models.tool_schema import openai_tool
from clinsim.plugins import Config

_MAX_BACKOFF_S = 30.0
_CONNECT_TIMEOUT_S = 10.0


_CHECK_TIMEOUT_S = 5.0
REDACTED = "[api key]"


class OpenAIConfig(Config):
    base_urls: list[str] = Field(
        default_factory=list, description="Server URLs (e.g. http://127.0.0.1:8000/v1)."
    )
    api_key: SecretStr | None = Field(
        default=None, exclude=True, description="Sent as a bearer token; never stored."
    )
    timeout_s: float = Field(
        default=120.0, ge=1e-3, le=86_400.0, allow_inf_nan=False, description="Per attempt."
    )
    max_retries: int = Field(default=3, ge=0)
    retry_backoff_s: float = Field(
        default=0.5, ge=0.0, le=_MAX_BACKOFF_S, allow_inf_nan=False, description="First wait."
    )
    max_concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.")
    tool_choice: str | dict[str, JsonValue] | None = Field(
        default=None, description="Sent with tools, e.g. 'required'."
    )
    extra_body: dict[str, JsonValue] = Field(
        default_factory=dict, description="Merged into every request body (e.g. top_k)."
    )


class _Retryable(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _tool_call_wire(call: ToolCall) -> dict[str, Any]:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def message_wire(message: ChatMessage) -> dict[str, Any]:
    """One message in the OpenAI chat format (images as image_url content parts)."""
    wire: dict[str, Any] = {"role": message.role}
    if message.images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
        for path in message.images:
            parts.append({"type": "image_url", "image_url": {"url": image_data_uri(path)}})
        wire["content"] = parts
    else:
        wire["content"] = message.content
    if message.tool_calls:
        wire["tool_calls"] = [_tool_call_wire(call) for call in message.tool_calls]
        wire["content"] = message.content or None
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        wire["name"] = message.name
    return wire


def request_body(model: str, request: ChatRequest, config: OpenAIConfig) -> dict[str, Any]:
    """The JSON body; `config.tool_choice` (sent with tools) and `config.extra_body`
    (server-specific fields such as vLLM's `top_k`) are added when set."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [message_wire(message) for message in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = request.stop
    if request.tools:
        body["tools"] = [openai_tool(spec) for spec in request.tools]
        if config.tool_choice is not None:
            body["tool_choice"] = config.tool_choice
    body.update(config.extra_body)
    return body


def _parse_tool_call(raw: Any, position: int) -> ToolCall:
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
        raise ModelError(f"tool_calls[{position}] in the response has no 'function' object")
    function = raw["function"]
    arguments_text = function.get("arguments") or ""
    arguments: dict[str, Any] | str = arguments_text
    if isinstance(arguments_text, dict):
        arguments = arguments_text
    elif not isinstance(arguments_text, str):
        arguments = json.dumps(arguments_text)  # a list or number: kept as text for the parser
    else:
        try:
            parsed = json.loads(arguments_text) if arguments_text.strip() else {}
            if isinstance(parsed, dict):
                arguments = parsed
        except json.JSONDecodeError:
            pass  # keep the raw string; the agent's parser decides what to do with it
    return ToolCall(
        id=str(raw.get("id") or f"call_{position}"),
        name=str(function.get("name") or ""),
        arguments=arguments,
    )


def parse_completion(payload: Any, url: str) -> ChatResponse:
    """An OpenAI chat-completion body -> ChatResponse (latency and retries filled by the caller)."""
    if not isinstance(payload, dict):
        raise ModelError(f"response from {url} is not a JSON object")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelError(f"response from {url} has no 'choices': {str(payload)[:200]}")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ModelError(f"response from {url} has no 'choices[0].message'")
    text, thinking = split_thinking(message.get("content") or "")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning.strip():
        thinking = "\n\n".join(part for part in (reasoning.strip(), thinking) if part)
    usage = payload.get("usage") or {}
    return ChatResponse(
        text=text,
        thinking=thinking,
        tool_calls=[
            _parse_tool_call(raw, i) for i, raw in enumerate(message.get("tool_calls") or [])
        ],
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
        finish_reason=choices[0].get("finish_reason"),
    )


def _retry_after(reply: Reply) -> float | None:
    try:
        return min(float(reply.retry_after), _MAX_BACKOFF_S)
    except ValueError:
        return None


def _error_text(reply: Reply, redact: Callable[[str], str]) -> str:
    text = redact(reply.text).strip().replace("\n", " ")
    return f"HTTP {reply.status}: {text[:300]}"


def _clean(value: Any, key: str | None) -> Any:
    """A decoded reply with the API key redacted and lone surrogates (which cannot be stored)
    replaced, in every string, keys included."""
    if isinstance(value, str):
        if key:
            value = value.replace(key, REDACTED)
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_clean(item, key) for item in value]
    if isinstance(value, dict):
        return {_clean(k, key): _clean(v, key) for k, v in value.items()}
    return value


class OpenAIChatModel:
    """A chat model behind one or more OpenAI-compatible `/v1/chat/completions` endpoints."""

    def __init__(self, name: str, settings: OpenAIConfig):
        self._client: aiohttp.ClientSession | None = None
        if not settings.base_urls:
            raise ModelError(
                f"openai/{name}: no base URL; pass --base-url (e.g. http://127.0.0.1:8000/v1)"
            )
        self.name = name
        self.address = f"openai/{name}"
        self.settings = settings
        self.backoff_s = settings.retry_backoff_s  # bounds checked by OpenAIConfig
        self._key = settings.api_key.get_secret_value() if settings.api_key else None
        self._urls = [_completions_url(url) for url in settings.base_urls]
        self._proxies = {url: proxy_for(url) for url in self._urls}
        self._next_url = itertools.cycle(range(len(self._urls)))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self.calls = 0
        self.usage_total = Usage()

    def _bind_loop(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        """Session and semaphore belong to one event loop; make new ones if the loop changed."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._slots is None or self._loop is not loop:
            if self._client is not None:
                abandon(self._client)
            timeout = self.settings.timeout_s
            connect = min(timeout, _CONNECT_TIMEOUT_S)
            self._client = session(
                self._headers(),
                aiohttp.ClientTimeout(total=timeout, connect=connect),
                self.settings.max_concurrency,
            )
            self._slots = asyncio.Semaphore(self.settings.max_concurrency)
            self._loop = loop
        return self._client, self._slots

    def __del__(self) -> None:
        # a model dropped without aclose() (a script, a test) closes its sockets quietly
        if self._client is not None and not self._client.closed:
            abandon(self._client)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.closed:
            if self._loop is asyncio.get_running_loop():
                await client.close()
            else:
                abandon(client)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One call; a failure is a ModelError with the key redacted and no chained exception
        (a cause such as a JSON error would still hold the server's whole reply)."""
        try:
            return await self._chat(request)
        except ModelError as error:
            retries = [self._redact(line) for line in error.retries]
            failure = ModelError(self._redact(str(error)), retries)
        except (ValueError, RecursionError) as error:  # a reply Python cannot hold
            reason = self._redact(f"{type(error).__name__}: {str(error)[:200]}")
            failure = ModelError(f"{self.address}: unreadable reply: {reason}")
        raise failure  # outside the handler: no __context__ to carry the reply along

    async def _chat(self, request: ChatRequest) -> ChatResponse:
        body = request_body(self.name, request, self.settings)
        client, slots = self._bind_loop()
        retries: list[str] = []
        started = time.perf_counter()
        for attempt in range(self.settings.max_retries + 1):
            url = self._urls[next(self._next_url)]
            try:
                async with slots:
                    response = await self._post(client, url, body)
            except _Retryable as error:
                retries.append(f"attempt {attempt + 1}: {url}: {error}")
                if attempt == self.settings.max_retries:
                    break
                delay = error.retry_after_s
                if delay is None:
                    delay = min(self.backoff_s * 2**attempt, _MAX_BACKOFF_S)
                await asyncio.sleep(delay)
                continue
            except ModelError as error:  # not worth retrying; the attempts before it count
                retries.append(f"attempt {attempt + 1}: {url}: {error}")
                raise ModelError(str(error), retries) from None
            response.latency_s = time.perf_counter() - started
            response.retries = retries
            self._account(response.usage)
            return response
        raise ModelError(
            f"{self.address}: gave up after {len(retries)} attempts; last: {retries[-1]}", retries
        )

    async def check(self) -> None:
        """Ask every endpoint for its model list (one cheap GET, short timeout); ModelError with
        the server's address when one cannot be reached or refuses the API key."""
        timeout = aiohttp.ClientTimeout(total=_CHECK_TIMEOUT_S)
        async with session(self._headers(), timeout) as client:
            for url in dict.fromkeys(self._urls):
                base = url.removesuffix("/chat/completions")
                try:
                    async with client.get(base + "/models", proxy=self._proxies[url]) as response:
                        reply = await read_reply(response)
                except (aiohttp.ClientError, TimeoutError) as error:
                    raise ModelError(
                        self._redact(
                            f"{self.address}: cannot reach the server at {base}: {problem(error)}"
                        )
                    ) from None
                if reply.status in (401, 403):
                    refused = _error_text(reply, self._redact)
                    raise ModelError(f"{self.address}: {base} refused the API key: {refused}")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _redact(self, text: str) -> str:
        return text.replace(self._key, REDACTED) if self._key else text

    async def _post(
        self, client: aiohttp.ClientSession, url: str, body: dict[str, Any]
    ) -> ChatResponse:
        try:
            data, proxy = json_bytes(body), self._proxies[url]
            async with client.post(url, data=data, proxy=proxy) as response:
                reply = await read_reply(response)
        except TimeoutError as error:
            raise _Retryable(f"timed out after {self.settings.timeout_s:g} s") from error
        except aiohttp.ClientError as error:
            raise _Retryable(f"connection error: {problem(error)}") from error
        if reply.status == 429 or reply.status >= 500:
            raise _Retryable(_error_text(reply, self._redact), _retry_after(reply))
        if reply.status >= 400:
            refused = _error_text(reply, self._redact)
            raise ModelError(f"{self.address}: {url} refused the request: {refused}")
        try:
            payload = json.loads(reply.body)
        except (ValueError, RecursionError) as error:  # not JSON, too deep, over-long numbers
            reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise ModelError(
                f"{self.address}: malformed JSON from {url} ({self._redact(reason)[:200]}); "
                f"body starts with {self._redact(reply.text)[:120]!r}"
            ) from None
        try:
            clean = _clean(payload, self._key)
        except RecursionError:
            raise ModelError(f"{self.address}: reply from {url} is nested too deeply") from None
        return parse_completion(clean, url)

    def _account(self, usage: Usage) -> None:
        self.calls += 1
        self.usage_total = Usage(
            prompt_tokens=self.usage_total.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self.usage_total.completion_tokens + usage.completion_tokens,
        )


def _completions_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/chat/completions"


@backend("openai", config=OpenAIConfig)
def openai_backend(name: str, config: OpenAIConfig) -> OpenAIChatModel:
    """Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp, TGI)."""
    return OpenAIChatModel(name, config)
