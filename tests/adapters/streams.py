"""Run a vendor decoder through the one stream loop (adapters/transport.py), on an in-memory
body, for tests of what the loop decides (a cut stream, the Start's warnings)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from adapters.base import ChunkDecoder
from adapters.transport import decode_stream
from schemas.events import StreamEvent


def in_memory(*chunks: bytes) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return httpx.Response(200, content=body())


async def through_the_loop(
    decoder: ChunkDecoder, *chunks: bytes, provider: str = "vendor", seen: list[StreamEvent] | None = None
) -> list[StreamEvent]:
    """Every event the loop yields (also appended to `seen`, to inspect after a raise)."""
    events = seen if seen is not None else []
    async for event in decode_stream(in_memory(*chunks), decoder, provider):
        events.append(event)
    return events
