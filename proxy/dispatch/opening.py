"""Opening a stream: its first event is peeked before the response is committed.

A stream counts as started only when its first real event arrived, so a failure until then
(nothing within the first-byte timeout, an empty stream, an error right after the vendor's
stream-start frame) is an `UpstreamError` the attempt loop may still retry or fall back
from; after it, proxy/dispatch/relay.py carries the stream to the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from adapters.base import UpstreamCall
from proxy.dispatch.call import CallContext, Lease
from proxy.dispatch.relay import close_quietly
from schemas.errors import Code, UpstreamError
from schemas.events import Start, StreamEvent


@dataclass(slots=True)
class Opened:
    """An upstream stream whose first event is in hand."""

    upstream: AsyncIterator[StreamEvent]
    first: StreamEvent
    upstream_model: str
    """The model name sent upstream (named so that observability does not read it as the
    vendor's answer: a stream's first event does not say which model answered)."""
    warnings: list[str] = field(default_factory=list)
    """What the vendor's stream-start frame warned about, when a real event followed it."""

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The first event (unless it is the vendor's own start frame), then the rest."""
        if not isinstance(self.first, Start):
            yield self.first
        async for event in self.upstream:
            yield event


async def open_stream(lease: Lease, call: UpstreamCall, first_byte: float) -> Opened:
    """Call the adapter's stream and wait up to `first_byte` seconds for its first event."""
    upstream = aiter(lease.adapter.stream(call))
    warnings: list[str] = []
    try:
        async with asyncio.timeout(first_byte):
            first = await anext(upstream)
            if isinstance(first, Start):
                # a vendor's stream-start frame is not output: an error right after it
                # (Anthropic's overloaded_error) may still be retried or fall back
                opening = first
                first = await anext(upstream)
                if opening.warnings and not isinstance(first, Start):
                    warnings.extend(opening.warnings)
    except TimeoutError:
        await close_quietly(upstream)
        raise UpstreamError(
            Code.TIMEOUT, f"{lease.provider} sent nothing within {first_byte:g} s", provider=lease.provider
        ) from None
    except StopAsyncIteration:
        raise UpstreamError(
            Code.CONNECTION, f"{lease.provider} sent an empty stream", provider=lease.provider
        ) from None
    except BaseException:
        await close_quietly(upstream)
        raise
    return Opened(upstream, first, call.model, warnings)


def start_event(context: CallContext, provider: str, opened: Opened, planned: list[str]) -> Start:
    """The unified `start` the client gets: the gateway's ids, every warning gathered so far
    (the capability plan's first, then the vendor's)."""
    start = Start(id=context.request_id, model=context.model_id, provider=provider)
    if isinstance(opened.first, Start):
        start.warnings = opened.first.warnings
    elif opened.warnings:
        start.warnings = opened.warnings
    if planned:
        start.warnings = [*planned, *(start.warnings or [])]
    return start
