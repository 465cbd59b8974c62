"""What one OpenAI call costs the calling process, three ways, against bench/fake_upstream.py:
the SDK's own `post()` (what the adapter did until the fifth session), the adapter's
prepared POST (`adapters.openai.PreparedPosts`: the SDK's request built once, a copy sent on
the SDK's own client), and plain aiohttp with no SDK, for scale.

    taskset -c 0 .venv/bin/python -m bench.sdk_call [--calls 1000] [--blocks 6]

CPU time of this process only (the fake upstream is its own process), in interleaved
blocks so a machine whose speed drifts moves the three alike; printed per way: the median
and the minimum over the blocks, µs per call.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx2
import openai
import uvloop

from adapters.openai import PreparedPosts
from bench.targets import ROOT, free_port

BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
KEY = "sk-bench"


async def measure(port: int, calls: int, blocks: int) -> dict[str, list[float]]:
    base_url = f"http://127.0.0.1:{port}/v1"
    client = openai.AsyncOpenAI(
        api_key="per-request", base_url=base_url, max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    posts = PreparedPosts(client)
    timeout = httpx2.Timeout(600.0, connect=5.0)
    options: Any = {"headers": {"Authorization": f"Bearer {KEY}"}, "timeout": timeout}

    async def sdk_post() -> bytes:
        response = await client.post(
            "/chat/completions", cast_to=httpx2.Response, content=BODY, options=options
        )
        return response.content

    async def prepared() -> bytes:
        response = await posts.post(
            "/chat/completions", BODY, KEY, total=600.0, connect=5.0, headers={}, stream=False
        )
        return response.content

    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

        async def plain() -> bytes:
            async with session.post(f"{base_url}/chat/completions", data=BODY, headers=headers) as response:
                return await response.read()

        ways: dict[str, Callable[[], Awaitable[bytes]]] = {
            "SDK post()": sdk_post,
            "prepared POST (the adapter)": prepared,
            "plain aiohttp (no SDK)": plain,
        }
        for way in ways.values():  # warm-up: connections, caches, the prepared template
            for _ in range(200):
                await way()
        results: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(blocks):
            for name, way in ways.items():
                began = time.process_time()
                for _ in range(calls):
                    await way()
                results[name].append((time.process_time() - began) / calls * 1e6)
    await client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=6)
    arguments = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.fake_upstream", str(port)], cwd=ROOT)
    try:
        time.sleep(1.5)
        results = uvloop.run(measure(port, arguments.calls, arguments.blocks))
    finally:
        upstream.kill()
    print("| way of calling | CPU µs per call, median (minimum) |\n|---|---|")
    for name, figures in results.items():
        print(f"| {name} | {statistics.median(figures):.0f} ({min(figures):.0f}) |")


if __name__ == "__main__":
    main()
