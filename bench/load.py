"""The load the bench drives: closed loop (N keep-alive connections, each sending its next
request when the last answer ended) and open loop (requests started at a fixed rate,
whatever the answers do, so a lone request's wake-ups are what is measured).

Latency is measured from the moment a request was due (open loop) or sent (closed loop)
to the answer's last byte; time to first byte to the first body chunk received.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, q: float, first_byte: bool = False) -> float:
        """The q-quantile in milliseconds (nan with no answers)."""
        ordered = sorted(self.first_bytes if first_byte else self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes,
    headers: dict[str, str],
    start: float,
    result: Result,
) -> None:
    try:
        async with session.post(url, data=payload, headers=headers) as response:
            first = None
            async for _ in response.content.iter_any():
                if first is None:
                    first = time.perf_counter()
            if response.status != 200:
                result.errors += 1
                return
    except aiohttp.ClientError:
        result.errors += 1
        return
    end = time.perf_counter()
    result.latencies.append(end - start)
    result.first_bytes.append((first or end) - start)


async def closed(
    url: str, payload: bytes, headers: dict[str, str], connections: int, seconds: float
) -> Result:
    result = Result()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await _one(session, url, payload, headers, time.perf_counter(), result)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.seconds = time.perf_counter() - began
    result.requests = len(result.latencies)
    return result


async def opened(url: str, payload: bytes, headers: dict[str, str], rate: float, seconds: float) -> Result:
    """`rate` requests a second for `seconds`, each started when due on a kept-alive pool."""
    result = Result()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        # one request first, so the timed part starts on a warm connection
        await _one(session, url, payload, headers, time.perf_counter(), Result())
        began = time.perf_counter()
        total = int(rate * seconds)
        pending: list[asyncio.Task[None]] = []
        for index in range(total):
            due = began + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(_one(session, url, payload, headers, due, result)))
        await asyncio.gather(*pending)
        result.seconds = time.perf_counter() - began
    result.requests = len(result.latencies)
    return result
