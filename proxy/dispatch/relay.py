"""A stream: opened, then relayed to the client once its first event is in hand.

Opening: a stream counts as started only when its first real event arrived, so a failure
until then (nothing within the first-byte timeout, an empty stream, an error right after
the vendor's stream-start frame) is an `UpstreamError` the attempt loop may still retry or
fall back from (`open_stream`).

Relaying: a producer task reads the upstream into a small bounded channel; the consumer (the
client's response) takes from it. That split is what lets the consumer send `: ping`
keep-alives and enforce the idle timeout without cancelling the upstream read, and a slow
client stalls the producer (the channel is full) instead of growing memory. A failure
after the first byte becomes an `error` event, then a `billing` event for what the vendor
streamed until then (the same figures as the ledger row), then `done`; the ledger row is
finished whatever happens, the client leaving included.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass, field

from adapters.base import UpstreamCall
from proxy.dispatch.call import CallContext, Lease
from schemas.chat import Usage
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import (
    Billing,
    Done,
    ErrorEvent,
    Finish,
    Ping,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
    usage_of,
)

log = logging.getLogger("unigate.relay")

_END = object()
EMPTY = object()
_PING_DUE = object()
CHANNEL_LIMIT = 64


class Channel:
    """A bounded FIFO whose `close` always gets through, even when it is full."""

    __slots__ = ("_items", "_limit", "_readable", "_writable")

    def __init__(self, limit: int = CHANNEL_LIMIT) -> None:
        self._items: deque[object] = deque()
        self._limit = limit
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    def offer(self, item: object) -> bool:
        """Put `item` if there is room, without an await; False when the channel is full."""
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        self._readable.set()
        return True

    async def put(self, item: object) -> None:
        while len(self._items) >= self._limit:
            self._writable.clear()
            await self._writable.wait()
        self._items.append(item)
        self._readable.set()

    def close(self, final: object) -> None:
        self._items.append(final)
        self._readable.set()

    def take(self) -> object:
        """The next item if one is waiting, else `EMPTY` (no timer, no await)."""
        if not self._items:
            return EMPTY
        item = self._items.popleft()
        self._writable.set()
        return item

    async def get(self) -> object:
        while not self._items:
            self._readable.clear()
            await self._readable.wait()
        item = self._items.popleft()
        self._writable.set()
        return item


@dataclass(slots=True)
class Outcome:
    """How a relayed stream ended, for the ledger and the breaker."""

    status: str = "client_disconnected"
    usage: Usage | None = None
    error: GatewayError | None = None
    billing: Billing | None = None


class Relay:
    def __init__(
        self,
        upstream: AsyncIterator[StreamEvent],
        *,
        start: Start,
        idle: float,
        ping_interval: float,
        deadline: float,
        bill: Callable[[Usage], Billing],
        finish: Callable[[Outcome], None],
    ) -> None:
        self._upstream = upstream
        self._start = start
        self._idle = idle
        self._ping_interval = ping_interval
        self._deadline = deadline
        self._bill = bill
        self._finish = finish
        self._channel = Channel()
        self._producer: asyncio.Task[None] | None = None
        self._streamed = 0
        """Characters of output the vendor sent, for an estimate when it never reports usage."""
        self.shutting_down = False

    def shutdown(self) -> None:
        """End this stream now with a `shutting_down` error (graceful shutdown's last step)."""
        self.shutting_down = True
        self._channel.close(
            GatewayError(Code.SHUTTING_DOWN, "the gateway is shutting down; retry the request")
        )
        if self._producer is not None:
            self._producer.cancel()

    async def _produce(self) -> None:
        try:
            # the deadline is enforced here too: with a fast vendor and a slow client the
            # consumer never waits on an empty channel, so its own timer never fires
            async with asyncio.timeout_at(self._deadline):
                channel = self._channel
                async for event in self._upstream:
                    self._streamed += _output_chars(event)
                    if not channel.offer(event):  # a full channel: wait for the client
                        await channel.put(event)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            message = "the stream ran past its time limit"
            self._channel.close(UpstreamError(Code.TIMEOUT, message, provider=self._start.provider))
            return
        except GatewayError as error:
            self._channel.close(error)
            return
        except Exception as error:
            log.error("stream decoder failed: %s", type(error).__name__)  # noqa: TRY400 - no traceback: it may quote payloads
            self._channel.close(UpstreamError(Code.SERVER_ERROR, "the upstream stream failed", provider=""))
            return
        finally:
            await close_quietly(self._upstream)
        self._channel.close(_END)

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        outcome = Outcome()
        usage = Usage()
        finished = False
        loop = asyncio.get_running_loop()
        self._producer = asyncio.create_task(self._produce())
        try:
            yield self._start
            # one turn of the loop for the producer's first step, which has the peeked event
            # (and the rest of its chunk) in hand: the first take then arms no timer
            await asyncio.sleep(0)
            quiet_since = loop.time()
            while True:
                # a waiting item needs no timer: the timeout is armed only on an empty channel
                item = self._channel.take()
                if item is EMPTY:
                    item = await self._waited(loop, quiet_since)
                    if item is _PING_DUE:
                        yield Ping()
                        continue
                quiet_since = loop.time()
                if item is _END:
                    break
                if isinstance(item, GatewayError):
                    raise item
                if isinstance(item, UsageEvent):  # usage and finish as the relayed events report them
                    usage = usage_of(item)
                elif isinstance(item, Finish):
                    finished = True
                elif isinstance(item, Start):
                    continue
                yield item  # type: ignore[misc]
            if not finished:
                raise UpstreamError(
                    Code.CONNECTION,
                    f"{self._start.provider} ended the stream without finishing",
                    provider=self._start.provider,
                )
            outcome.billing = self._bill(usage)
            outcome.status = "completed"
            yield outcome.billing
        except GatewayError as error:
            outcome.error = error
            outcome.status = {Code.TIMEOUT: "timeout", Code.SHUTTING_DOWN: "shutdown"}.get(
                error.code, "upstream_error"
            )
            self._settle(outcome, usage)
            yield ErrorEvent(
                code=error.code,
                message=error.message,
                retryable=error.retryable,
                provider=error.provider or self._start.provider,
            )
            if outcome.billing is not None:
                yield outcome.billing  # what was used until the failure, as the ledger row has it
        finally:
            self._settle(outcome, usage)
            if self._producer is not None and not self._producer.done():
                self._producer.cancel()
            self._finish(outcome)
        yield Done()

    async def _waited(self, loop: asyncio.AbstractEventLoop, quiet_since: float) -> object:
        """The next item of an empty channel; `_PING_DUE` when the ping interval passes first;
        the idle timeout or the deadline raised when either passes first."""
        now = loop.time()
        wait = min(self._ping_interval, quiet_since + self._idle - now, self._deadline - now)
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                return await self._channel.get()
        except TimeoutError:
            now = loop.time()
            if now >= self._deadline or now >= quiet_since + self._idle:
                raise UpstreamError(
                    Code.TIMEOUT,
                    "the upstream stopped sending before the stream finished",
                    provider=self._start.provider,
                ) from None
            return _PING_DUE

    def _settle(self, outcome: Outcome, usage: Usage) -> None:
        """The row's usage and billing, once; a stream that did not complete (cut, timed out,
        left by its client) is billed for what the vendor streamed so far."""
        if outcome.usage is not None:
            return
        outcome.usage = usage if outcome.status == "completed" else _so_far(usage, self._streamed)
        outcome.billing = outcome.billing or self._bill(outcome.usage)


def _output_chars(event: StreamEvent) -> int:
    if isinstance(event, TextDelta | ReasoningDelta):
        return len(event.text)
    return len(event.arguments) if isinstance(event, ToolCallDelta) else 0


def _so_far(usage: Usage, streamed: int) -> Usage:
    """The vendor's usage when it sent one; else output tokens estimated at ~4 characters
    per token, so a cut stream still leaves a row with what it probably cost."""
    if usage.output_tokens or not streamed:
        return usage
    return Usage(input_tokens=usage.input_tokens, output_tokens=-(-streamed // 4))


async def close_quietly(iterator: AsyncIterator[StreamEvent]) -> None:
    """Close an upstream stream; a broken one must not mask how the stream ended."""
    closer = getattr(iterator, "aclose", None)
    if closer is None:
        return
    try:
        await closer()
    except Exception:
        log.debug("closing the upstream stream failed")


# -- opening a stream ------------------------------------------------------------------------


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

    def events(self) -> Peeked:
        """The first event (unless it is the vendor's own start frame), then the rest."""
        return Peeked(None if isinstance(self.first, Start) else self.first, self.upstream)


class Peeked:
    """An upstream stream read from its peeked first event on; closing it closes the upstream.

    One object with a plain `__anext__` that hands over the upstream's own awaitable, so an
    event costs the relay no generator frame or coroutine of its own."""

    __slots__ = ("_first", "_upstream")

    def __init__(self, first: StreamEvent | None, upstream: AsyncIterator[StreamEvent]) -> None:
        self._first = first
        self._upstream = upstream

    def __aiter__(self) -> Peeked:
        return self

    def __anext__(self) -> Awaitable[StreamEvent]:
        first = self._first
        if first is None:
            return self._upstream.__anext__()
        self._first = None
        return _Ready(first)

    async def aclose(self) -> None:
        await close_quietly(self._upstream)


class _Ready:
    """An awaitable that is already done: the peeked event, handed over without suspending."""

    __slots__ = ("_event",)

    def __init__(self, event: StreamEvent) -> None:
        self._event = event

    def __await__(self) -> Generator[None, None, StreamEvent]:
        yield from ()  # a generator that yields nothing: `await` gets the event at once
        return self._event


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
