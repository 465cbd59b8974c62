"""Encoding answers for the client: the one JSON envelope of a non-streamed answer, the
unified SSE format, or raw text deltas.

The raw-text format (what the Bytez SDKs read) has no room for an error event, so a stream
that failed after its first byte says so the only way plain HTTP can: the response ends
without its terminating chunk (`StreamCut`, an `EventStream`'s `cut_on`), and the client's
HTTP library raises (httpx `RemoteProtocolError`, requests `ChunkedEncodingError`) instead
of seeing a clean end. Nor can it carry its cost: a client that accepts trailers (`TE:
trailers`) gets the billing as the `TRAILER_FIELDS` after the last chunk, the figures of the
call's ledger row (which has them either way); the headers went out before the first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec

from proxy.dispatch.call import Completed
from schemas.events import Billing, ErrorEvent, Ping, StreamEvent, TextDelta, VendorFrame
from schemas.native import BillingSummary, ChatOutput, Envelope

_encode = msgspec.json.Encoder().encode
_PREFIX: dict[type, bytes] = {}

TRAILER_FIELDS = ("Inference-Meter", "Inference-Meter-Price", "Inference-Time", "Inference-Cost")
"""A raw-text stream's billing, after its last chunk; announced in the `Trailer` header, as
RFC 9110 asks."""

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
PING = b": ping\n\n"


def billing_summary(billing: Billing) -> BillingSummary:
    return BillingSummary(billing.meter, billing.meter_price, billing.inference_time, billing.cost)


def chat_envelope(done: Completed, request_id: str, model_id: str) -> Envelope:
    """A chat's answer, from a vendor or a worker pool alike: `provider` is the raw reply."""
    response = done.response
    output = ChatOutput(
        role="assistant",
        content=response.content,
        finish_reason=response.finish_reason,
        raw_finish_reason=response.raw_finish_reason,
        tool_calls=response.tool_calls,
        reasoning=response.reasoning,
    )
    return Envelope(
        error=None,
        code=None,
        output=output,
        usage=response.usage,
        billing=billing_summary(done.billing),
        provider=response.raw,
        warnings=list(response.warnings or ()),
        id=request_id,
        model=model_id,
    )


def encode_envelope(envelope: Envelope) -> bytes:
    return _encode(envelope)


class StreamCut(Exception):
    """A raw-text stream's upstream failed after the first byte: the response must not end cleanly."""


def encode_event(event: StreamEvent) -> bytes:
    if isinstance(event, Ping):
        return PING
    if isinstance(event, VendorFrame):
        return b""  # another wire's own event (the Responses passthrough), not the unified stream's
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
    cannot carry, goes to `on_billing` (for trailers); `StreamCut` at the end of one that
    failed. The events are read to their end (`done`) first, so the relay settles the call's
    ledger row before the response is cut."""
    failed = False
    async for event in events:
        if isinstance(event, TextDelta) and event.text:
            yield event.text.encode()
        elif isinstance(event, Billing) and on_billing is not None:
            on_billing(event)
        elif isinstance(event, ErrorEvent):
            failed = True
    if failed:
        raise StreamCut
