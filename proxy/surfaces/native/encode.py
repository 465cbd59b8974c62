"""Encoding StreamEvents for the client: the unified SSE format, or raw text deltas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec

from schemas.events import Billing, Ping, StreamEvent, TextDelta

_encode = msgspec.json.Encoder().encode
_PREFIX: dict[type, bytes] = {}

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
PING = b": ping\n\n"


def encode_event(event: StreamEvent) -> bytes:
    if isinstance(event, Ping):
        return PING
    kind = type(event)
    prefix = _PREFIX.get(kind)
    if prefix is None:
        prefix = _PREFIX[kind] = f"event: {kind.__struct_config__.tag}\ndata: ".encode()
    return prefix + _encode(event) + b"\n\n"


async def unified_sse(events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield encode_event(event)


async def raw_text(
    events: AsyncIterator[StreamEvent], on_billing: Callable[[Billing], object] | None = None
) -> AsyncIterator[bytes]:
    """The Bytez SDKs' stream: the text deltas alone, nothing else; the billing, which it
    cannot carry, goes to `on_billing` (for trailers)."""
    async for event in events:
        if isinstance(event, TextDelta) and event.text:
            yield event.text.encode()
        elif isinstance(event, Billing) and on_billing is not None:
            on_billing(event)
