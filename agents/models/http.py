"""The HTTP transport of OpenAI-compatible backends: one aiohttp session per model and event loop.

aiohttp costs 0.17 ms of CPU a request at 16 at once, against 1.5 ms for httpx, whose pool
checks every pooled connection on each request (`bench/bench_http.py`).
"""

from __future__ import annotations

import functools
import json
import ssl
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

import aiohttp
import certifi


@functools.cache
def tls_context() -> ssl.SSLContext:
    """TLS verified against certifi's CA bundle, made once: reading the bundle takes 50-100 ms,
    and every model role of a run (and every event loop) opens a session of its own."""
    return ssl.create_default_context(cafile=certifi.where())


class Reply(NamedTuple):
    """An HTTP reply read whole: status, Retry-After header, body."""

    status: int
    retry_after: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session made in an event loop that has ended (`asyncio.run` once per call, as
    `build-ehr-scenarios` does): close() can no longer be awaited there, and aiohttp would
    otherwise report the session and its connector as unclosed when they are collected."""
    connector = session.connector
    session.detach()
    if connector is not None:
        connector._close()  # the synchronous part of close(); the loop to await the rest is gone


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def session(
    headers: dict[str, str], timeout: aiohttp.ClientTimeout, limit: int = 0
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, ssl=tls_context())
    return aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    )


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as
    `requests` reads them), looked up once: aiohttp's own lookup (`trust_env`) costs half a
    millisecond a request."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def read_reply(response: aiohttp.ClientResponse) -> Reply:
    body = await response.read()
    return Reply(response.status, response.headers.get("retry-after", ""), body)


def problem(error: BaseException) -> str:
    """`ErrorType: message` for an error of the HTTP client."""
    return f"{type(error).__name__}: {error}".rstrip(": ")
