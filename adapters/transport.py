"""What every adapter's I/O shares: the one loop that reads a vendor stream, and the one
cache of SDK clients per base URL.

The loop (`decode_stream`): transport failures in the middle of a stream become typed
upstream errors; the response is closed whatever happens (the client leaving included),
which is what stops the vendor's generation; the stream opens with exactly one `Start`,
made here (`start_of`) from what the decoder says of the vendor's stream (`Opening`), naming
the provider and carrying the call's warnings (the one place either is put on a stream); and
a stream that ends without its `Finish` was cut, never a clean end (the one place that is
checked). Decoders only translate: `ChunkDecoder` takes raw bytes, `sse_data` / `sse_named`
frame Server-Sent Events for the decoders that read them (adapters/base.py).

The vendor SDKs run on httpx2, the worker clients and Cohere's SDK on httpx; both are taken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

import httpx
import httpx2

from adapters.base import ChunkDecoder, DataDecoder, NamedEventDecoder, Opening
from adapters.errors import stream_cut
from adapters.sse import ServerSentEvent, SSEDecoder
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, Start, StreamEvent

__all__ = [
    "ChunkDecoder",
    "ClientCache",
    "SSEFrames",
    "decode_stream",
    "read_reply",
    "sse_data",
    "sse_named",
    "start_of",
]

Response = httpx2.Response | httpx.Response
_TIMEOUTS = (httpx2.TimeoutException, httpx.TimeoutException)
_TRANSPORT = (httpx2.TransportError, httpx.TransportError)


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


class SSEFrames:
    """A `ChunkDecoder` that frames Server-Sent Events and hands each one to a vendor decoder
    (one of `data`, `named`: the decoder that reads each event's data alone, or its name too).

    A chunk's frames are decoded at once, straight into the vendor decoder's bound `feed`;
    a frame that fails after others of the same chunk gave events (text, then the vendor's
    `error` event) raises only once those events are out, so the client sees what was
    generated before the error. The vendor's `opening` is set by its first frame and never
    changed, so it reads the same as if the frames had gone one by one."""

    __slots__ = ("_data", "_decoder", "_frames", "_named")

    def __init__(self, *, data: DataDecoder | None = None, named: NamedEventDecoder | None = None) -> None:
        decoder = data if data is not None else named
        if decoder is None:
            raise TypeError("SSEFrames needs a data or a named decoder")
        self._decoder: DataDecoder | NamedEventDecoder = decoder
        self._data = data
        self._named = named
        self._frames = SSEDecoder()

    @property
    def done(self) -> bool:
        return self._decoder.done

    @property
    def opening(self) -> Opening | None:
        return self._decoder.opening

    def feed(self, chunk: bytes) -> Iterable[StreamEvent]:
        events, error = self._decode(self._frames.feed(chunk))
        return events if error is None else _raising_after(events, error)

    def close(self) -> Iterable[StreamEvent]:
        """A final event without its blank line still counts, then the decoder's own end."""
        events, error = self._decode(self._frames.flush())
        if error is not None:
            return _raising_after(events, error)  # the decoder's end never comes
        events += self._decoder.close()
        return events

    def _decode(self, frames: list[ServerSentEvent]) -> tuple[list[StreamEvent], Exception | None]:
        """The frames' events, up to the vendor's last word, and the error that stopped them."""
        events: list[StreamEvent] = []
        decoder, data, named = self._decoder, self._data, self._named
        for frame in frames:
            if decoder.done:
                break
            try:
                if data is not None:
                    events += data.feed(frame.data)
                elif named is not None:
                    events += named.feed(frame.event, frame.data)
            except Exception as error:
                return events, error
        return events, None


def _raising_after(events: list[StreamEvent], error: Exception) -> Iterator[StreamEvent]:
    """The events a chunk gave before its failing frame, then that frame's error."""
    yield from events
    raise error


def sse_data(decoder: DataDecoder) -> SSEFrames:
    """SSE framing for a decoder that reads each event's `data:` alone."""
    return SSEFrames(data=decoder)


def sse_named(decoder: NamedEventDecoder) -> SSEFrames:
    """SSE framing for a decoder that reads each event's name too."""
    return SSEFrames(named=decoder)


async def decode_stream(
    response: Response, decoder: ChunkDecoder, provider: str, warnings: list[str] | None = None
) -> AsyncIterator[StreamEvent]:
    """The one read loop of every vendor and worker stream (see the module docstring).

    The `Start` goes out just before the first event, so it holds all the decoder learnt of
    the vendor's stream by then, and `warnings` learnt from the response's headers (a
    deprecated model) still ride on it. A stream with no event before its end has no `Start`:
    it was cut before it said anything. One loop over the chunks and then the decoder's
    `close` (the last pass), so each event passes one generator frame here; the decoder's
    events are taken one by one, so its error raises after the events before it."""
    started = finished = False
    try:
        chunks = aiter(response.aiter_bytes())
        last = False
        while not last:
            chunk = None if decoder.done else await anext(chunks, None)
            last = chunk is None
            for event in decoder.close() if chunk is None else decoder.feed(chunk):
                if isinstance(event, Start):
                    continue  # the loop's own is the stream's one Start
                if not started:
                    started = True
                    yield start_of(provider, decoder.opening, warnings)
                if not finished:
                    finished = isinstance(event, Finish)
                yield event
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
    if not finished:
        raise stream_cut(provider)


def start_of(provider: str, opening: Opening | None = None, warnings: list[str] | None = None) -> Start:
    """The one constructor of a stream's `Start`: the provider's name, what the vendor said of
    its stream (nothing, for a vendor that says nothing), the call's warnings."""
    said = opening or Opening()
    start = Start(id=said.id, model=said.model, provider=provider)
    if warnings:
        start.warnings = list(warnings)
    return start


class _Closable(Protocol):
    async def aclose(self) -> None: ...


K = TypeVar("K", bound=Hashable)
P = TypeVar("P", bound=_Closable)
C = TypeVar("C")


class ClientCache(Generic[K, P, C]):
    """One SDK client per key (a base URL, or what an SDK derives from one) over one shared
    connection pool, both built on first use, inside the event loop that drives them.

    Nothing per caller lives in a client: each holds a placeholder key, and the caller's key
    travels in the request's own options (a header), which is what the SDKs' `with_options`
    would do minus the copy of the client. So a request costs one dict lookup here, and one
    caller's key can never stay behind for the next."""

    __slots__ = ("_build", "_clients", "_close_client", "_make_pool", "_pool")

    def __init__(
        self,
        make_pool: Callable[[], P],
        build: Callable[[K, P], C],
        *,
        pool: P | None = None,
        close_client: Callable[[C], Awaitable[None]] | None = None,
    ) -> None:
        self._make_pool = make_pool
        self._build = build
        self._pool = pool
        self._close_client = close_client
        self._clients: dict[K, C] = {}

    @property
    def pool(self) -> P:
        if self._pool is None:
            self._pool = self._make_pool()
        return self._pool

    def get(self, key: K) -> C:
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._build(key, self.pool)
        return client

    def __len__(self) -> int:
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every client, then the pool (given or built: the adapter owns it)."""
        clients = list(self._clients.values())
        self._clients.clear()
        if self._close_client is not None:
            for client in clients:
                await self._close_client(client)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()
