"""The relay on its own (proxy/dispatch/relay.py): what the client gets once a stream has
started, and the outcome the ledger and the breaker are told, for each way a stream ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from proxy.dispatch.relay import CHANNEL_LIMIT, Opened, Outcome, Relay
from schemas.chat import Usage
from schemas.errors import Code
from schemas.events import (
    Billing,
    Done,
    ErrorEvent,
    Finish,
    Ping,
    Start,
    StreamEvent,
    TextDelta,
    UsageEvent,
)

START = Start(id="req-1", model="team/chat", provider="openai")


class Upstream:
    """An adapter's stream: yields `events`, then (when `hang`) waits until closed, or raises
    `error`; records that it was closed, as the relay must always do."""

    def __init__(self, *events: StreamEvent, hang: bool = False, error: Exception | None = None) -> None:
        self.events = events
        self.hang = hang
        self.error = error
        self.produced = 0
        self.closed = False

    async def stream(self) -> AsyncIterator[StreamEvent]:
        try:
            for event in self.events:
                self.produced += 1
                yield event
            if self.error is not None:
                raise self.error
            if self.hang:
                await asyncio.Event().wait()
        finally:
            self.closed = True


class Run:
    def __init__(self, upstream: Upstream, *, idle: float = 10.0, ping_interval: float = 10.0) -> None:
        self.upstream = upstream
        self.outcomes: list[Outcome] = []
        self.relay = Relay(
            upstream.stream(),
            start=START,
            idle=idle,
            ping_interval=ping_interval,
            deadline=asyncio.get_running_loop().time() + 30.0,
            bill=lambda usage: Billing(
                meter="tokens", meter_price=None, inference_time=1.0, cost=usage.output_tokens / 1e6
            ),
            finish=self.outcomes.append,
        )

    async def all(self) -> list[StreamEvent]:
        return [event async for event in self.relay.events()]

    @property
    def outcome(self) -> Outcome:
        [outcome] = self.outcomes  # told exactly once
        return outcome


async def turns() -> None:
    """A few turns of the event loop: a cancelled producer closes its upstream on its next one."""
    for _ in range(10):
        await asyncio.sleep(0)


def kinds(events: list[StreamEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


async def test_a_finished_stream_ends_with_its_billing_then_done() -> None:
    run = Run(
        Upstream(
            TextDelta(index=0, text="hi"),
            UsageEvent(input_tokens=3, output_tokens=5),
            Finish(reason="stop", raw_reason="stop"),
        )
    )
    events = await run.all()
    assert kinds(events) == ["Start", "TextDelta", "UsageEvent", "Finish", "Billing", "Done"]
    assert events[0] is START
    assert (run.outcome.status, run.outcome.usage, run.outcome.error) == ("completed", Usage(3, 5), None)
    assert run.outcome.billing == events[-2]
    assert run.upstream.closed


async def test_a_stream_that_ends_without_finishing_is_an_error_billed_for_what_it_sent() -> None:
    run = Run(Upstream(TextDelta(index=0, text="12345678")))
    events = await run.all()
    assert kinds(events) == ["Start", "TextDelta", "ErrorEvent", "Billing", "Done"]
    error = events[2]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.provider, error.retryable) == (Code.CONNECTION, "openai", True)
    assert run.outcome.status == "upstream_error"
    assert run.outcome.usage == Usage(0, 2)  # no usage reported: 8 characters, ~4 a token


async def test_a_quiet_upstream_gets_pings_then_the_idle_timeout_ends_it() -> None:
    run = Run(Upstream(TextDelta(index=0, text="hi"), hang=True), idle=1.0, ping_interval=0.05)
    events = await run.all()
    assert kinds(events)[:2] == ["Start", "TextDelta"]
    assert Ping() in events
    error = events[-3]
    assert isinstance(error, ErrorEvent) and error.code == Code.TIMEOUT
    assert run.outcome.status == "timeout"
    await turns()
    assert run.upstream.closed


async def test_shutdown_ends_a_running_stream_with_a_shutting_down_error() -> None:
    run = Run(Upstream(TextDelta(index=0, text="hi"), hang=True))
    events: list[StreamEvent] = []
    async for event in run.relay.events():
        events.append(event)
        if isinstance(event, TextDelta):
            run.relay.shutdown()
    assert kinds(events) == ["Start", "TextDelta", "ErrorEvent", "Billing", "Done"]
    assert isinstance(events[2], ErrorEvent) and events[2].code == Code.SHUTTING_DOWN
    assert run.outcome.status == "shutdown"
    await turns()
    assert run.upstream.closed


async def test_a_decoder_bug_is_a_server_error_event_not_a_silent_end() -> None:
    run = Run(Upstream(TextDelta(index=0, text="hi"), error=ValueError("bad frame with a payload")))
    events = await run.all()
    error = events[-3]
    assert isinstance(error, ErrorEvent) and error.code == Code.SERVER_ERROR
    assert "payload" not in error.message
    assert isinstance(events[-1], Done)


async def test_a_client_that_leaves_mid_stream_closes_the_upstream_and_is_recorded() -> None:
    run = Run(Upstream(TextDelta(index=0, text="hi"), hang=True))
    events = run.relay.events()
    assert await anext(events) is START
    assert isinstance(await anext(events), TextDelta)
    await events.aclose()  # what the server does when the client's connection goes
    assert run.outcome.status == "client_disconnected"
    await turns()
    assert run.upstream.closed


async def test_a_slow_client_stalls_the_upstream_read_instead_of_buffering_it() -> None:
    many = [TextDelta(index=0, text="x") for _ in range(CHANNEL_LIMIT * 4)]
    run = Run(Upstream(*many, Finish(reason="stop", raw_reason="stop")))
    events = run.relay.events()
    assert await anext(events) is START  # the producer starts; the client now reads nothing
    for _ in range(CHANNEL_LIMIT * 8):
        await asyncio.sleep(0)
    assert run.upstream.produced <= CHANNEL_LIMIT + 1
    rest = [event async for event in events]
    assert len([event for event in rest if isinstance(event, TextDelta)]) == CHANNEL_LIMIT * 4
    assert run.outcome.status == "completed"


HI = TextDelta(index=0, text="hi")
STOP = Finish(reason="stop", raw_reason="stop")


async def test_the_peeked_first_event_comes_first_unless_it_is_the_vendors_start() -> None:
    for first, expected in ((HI, [HI, HI, STOP]), (Start(id="v", model="m", provider="openai"), [HI, STOP])):
        opened = Opened(Upstream(HI, STOP).stream(), first, "m")
        assert [event async for event in opened.events()] == expected


async def test_closing_the_peeked_stream_closes_the_upstream_before_or_after_its_first_event() -> None:
    for taken in (0, 1):
        upstream = Upstream(HI, hang=True)
        stream = upstream.stream()
        first = await anext(stream)  # what open_stream peeked
        peeked = Opened(stream, first, "m").events()
        for _ in range(taken):
            assert await anext(peeked) is HI
        await peeked.aclose()
        assert upstream.closed, taken


async def test_a_relay_over_a_peeked_stream_relays_every_event_and_closes_it() -> None:
    upstream = Upstream(HI, UsageEvent(input_tokens=1, output_tokens=2), STOP)
    stream = upstream.stream()
    first = await anext(stream)
    run = Run(upstream)
    run.relay = Relay(
        Opened(stream, first, "m").events(),
        start=START,
        idle=10.0,
        ping_interval=10.0,
        deadline=asyncio.get_running_loop().time() + 30.0,
        bill=lambda usage: Billing(meter="tokens", meter_price=None, inference_time=1.0, cost=None),
        finish=run.outcomes.append,
    )
    events = await run.all()
    assert kinds(events) == ["Start", "TextDelta", "UsageEvent", "Finish", "Billing", "Done"]
    assert run.outcome.status == "completed" and upstream.closed
