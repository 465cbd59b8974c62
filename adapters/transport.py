"""What every adapter reading a vendor stream shares: transport failures in the middle of a
stream become typed upstream errors, and the response is closed whatever happens (the
client leaving included), which is what stops the vendor's generation. The vendor SDKs run
on httpx2, the worker clients on httpx; both are taken."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import httpx
import httpx2

from adapters.sse import SSEDecoder
from schemas.errors import Code, UpstreamError
from schemas.events import Start, StreamEvent

Response = httpx2.Response | httpx.Response
_TIMEOUTS = (httpx2.TimeoutException, httpx.TimeoutException)
_TRANSPORT = (httpx2.TransportError, httpx.TransportError)


class DataDecoder(Protocol):
    """A vendor stream decoder fed the `data:` field of each SSE event."""

    done: bool

    def feed(self, data: str) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


@contextlib.asynccontextmanager
async def reading_stream(response: Response, provider: str) -> AsyncIterator[None]:
    try:
        yield
    except _TIMEOUTS:
        raise UpstreamError(
            Code.TIMEOUT, f"{provider} stopped sending before the stream finished", provider=provider
        ) from None
    except _TRANSPORT:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-stream", provider=provider
        ) from None
    finally:
        await response.aclose()


async def read_reply(response: Response, provider: str) -> bytes:
    """A non-streamed reply's whole body; transport failures while reading it become typed
    upstream errors, and the response is closed."""
    try:
        return await response.aread()
    except _TIMEOUTS:
        raise UpstreamError(Code.TIMEOUT, f"{provider} did not answer in time", provider=provider) from None
    except _TRANSPORT:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-reply", provider=provider
        ) from None
    finally:
        await response.aclose()


async def decode_sse(
    response: httpx2.Response, decoder: DataDecoder, provider: str, warnings: list[str] | None = None
) -> AsyncIterator[StreamEvent]:
    """The events of an SSE response through `decoder`; `warnings` ride on the `Start` event."""
    frames = SSEDecoder()
    async with reading_stream(response, provider):
        async for chunk in response.aiter_bytes():
            for frame in frames.feed(chunk):
                for event in decoder.feed(frame.data):
                    if warnings and isinstance(event, Start):
                        event.warnings = warnings
                    yield event
            if decoder.done:
                return
        for frame in frames.flush():
            for event in decoder.feed(frame.data):
                yield event
        for event in decoder.close():
            yield event
