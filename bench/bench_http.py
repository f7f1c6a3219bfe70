"""CPU per model call of the `openai` backend's HTTP client, against httpx doing the same.

    python bench/bench_http.py [--requests 2000] [--concurrency 16]

Both post the same chat request (about 6 KB of messages) `--requests` times, `--concurrency` at
once, to a loopback OpenAI-compatible server in its own process that answers at once: the
`openai` backend (`OpenAIChatModel.chat`: aiohttp, the reply parsed into a `ChatResponse`), and
an `httpx.AsyncClient` with the same connection limit posting the same body and decoding the
JSON reply (what the backend did before). Prints this process's CPU time per request (the
server's is left out) and wall time, best of `--rounds` alternating rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from clinsim.agents.models.base import ChatMessage, ChatRequest
from clinsim.agents.models.openai import OpenAIChatModel, OpenAIConfig, request_body

SERVE = (
    "import asyncio, sys\n"
    "from clinsim.agents.models.loopback import LoopbackServer\n"
    "class Tally(list):\n"
    "    def append(self, item): pass\n"
    "async def main():\n"
    "    async with LoopbackServer(latency_s=0.0, requests=Tally()) as server:\n"
    "        print(server.base_url, flush=True)\n"
    "        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
    "asyncio.run(main())\n"
)


@contextmanager
def server() -> Iterator[str]:
    with subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        url = process.stdout.readline().strip()
        try:
            yield url
        finally:
            process.stdin.close()
            process.wait(30)


def request() -> ChatRequest:
    history = [
        ChatMessage(role="user" if i % 2 else "assistant", content=f"turn {i}: " + "words " * 80)
        for i in range(12)
    ]
    return ChatRequest(messages=[ChatMessage(role="system", content="doctor " * 200), *history])


async def many(call: Callable[[], Awaitable[object]], count: int, concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await call()

    await asyncio.gather(*(one() for _ in range(count)))


async def backend_round(url: str, count: int, concurrency: int) -> None:
    settings = OpenAIConfig(base_urls=[url], max_concurrency=concurrency)
    model = OpenAIChatModel("bench", settings)
    chat = request()
    try:
        await many(lambda: model.chat(chat), count, concurrency)
    finally:
        await model.aclose()


async def httpx_round(url: str, count: int, concurrency: int) -> None:
    import httpx

    body = request_body("bench", request(), OpenAIConfig(base_urls=[url]))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def post() -> None:
            reply = await client.post(f"{url}/chat/completions", json=body)
            json.loads(reply.content)

        await many(post, count, concurrency)


Round = Callable[[str, int, int], Coroutine[Any, Any, None]]


def measure(round_: Round, url: str, count: int, concurrency: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(round_(url, count, concurrency))
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    clients: dict[str, Round] = {
        "openai backend (aiohttp)": backend_round,
        "httpx.AsyncClient": httpx_round,
    }
    best: dict[str, tuple[float, float]] = {}
    with server() as url:
        for _ in range(args.rounds):
            for name, round_ in clients.items():
                wall, cpu = measure(round_, url, args.requests, args.concurrency)
                old = best.get(name)
                best[name] = (wall, cpu) if old is None or cpu < old[1] else old
    print(f"{args.requests} requests, {args.concurrency} at once, best of {args.rounds} rounds")
    for name, (wall, cpu) in best.items():
        per = 1000 * cpu / args.requests
        print(f"  {name:<26} {per:6.3f} ms CPU per request   {wall:6.2f} s wall")
    ratio = best["httpx.AsyncClient"][1] / best["openai backend (aiohttp)"][1]
    print(f"  httpx uses {ratio:.1f}x the backend's CPU per request")


if __name__ == "__main__":
    main()
