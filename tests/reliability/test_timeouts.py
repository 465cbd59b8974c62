"""U6, U7, U9 and the stream's own hygiene: first-byte and idle timeouts, `: ping`
keep-alives, per-route timeouts, headers at once, no compression."""

from __future__ import annotations

import time

import pytest

from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    CHAT_ROUTE,
    OPENAI_ONLY,
    SSEResult,
    config,
    ledger,
    openai_stream,
    post,
    stream,
    wait_for,
    words_text,
)


@pytest.mark.timeout(20)
def test_u6_no_headers_within_first_byte_cancels_the_attempt_and_moves_on(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(first_byte=0.4))
    openai_fake.responder = lambda _: openai_stream(3, delay=10)
    started = time.monotonic()
    result = stream(gateway)
    assert result.status == 200
    assert result.first("start")["provider"] == "anthropic"  # nothing of the stalled attempts
    assert result.text == "Hello! How can I help you today?"
    assert "error" not in result.kinds
    assert len(openai_fake.received) == 3
    assert 3 * 0.4 <= time.monotonic() - started < 3 * 0.4 + 1.5
    wait_for(lambda: openai_fake.disconnects == 3, 2)
    for request, closed in zip(openai_fake.received, openai_fake.disconnect_times, strict=True):
        assert closed - request.at < 0.4 + 0.5  # each upstream socket closed at its timeout
    [row] = ledger(gateway)
    assert (row["status"], row["provider"], row["attempts"]) == ("completed", "anthropic", 4)


@pytest.mark.timeout(20)
def test_u7_headers_then_silence_is_treated_like_no_headers(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, first_byte=0.4))
    openai_fake.responder = lambda _: openai_stream(3, stall_after=0, stall=10)
    result = stream(gateway)
    assert result.status == 200
    assert result.first("start")["provider"] == "anthropic"
    assert result.kinds[-1] == "done" and "error" not in result.kinds
    assert len(openai_fake.received) == 1 and len(anthropic_fake.received) == 1
    wait_for(lambda: openai_fake.disconnects == 1, 2)
    assert openai_fake.disconnect_times[0] - openai_fake.received[0].at < 0.4 + 0.5


@pytest.mark.timeout(20)
def test_u7_per_route_first_byte_timeout_wins_over_the_default(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    route = CHAT_ROUTE + '\n[[routes]]\nmatch = "team/slow"\nprovider = "openai"\nmodel = "gpt-4o-mini"\n'
    route += "timeouts = { first_byte = 3.0 }\n"
    gateway = make_gateway(config(first_byte=0.3, extra=route))
    openai_fake.enqueue(openai_stream(2, stall_after=0, stall=1.0))
    assert stream(gateway, "/models/v2/team/slow").text == words_text(2)
    openai_fake.responder = lambda _: openai_stream(2, stall_after=0, stall=1.0)
    timed_out = stream(gateway, OPENAI_ONLY)
    assert timed_out.status == 504
    assert b'"code":"timeout"' in timed_out.body
    assert len(openai_fake.received) == 1 + 3


@pytest.mark.timeout(20)
def test_u9_a_stall_between_chunks_ends_with_a_timeout_error_event(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(idle=0.5))
    openai_fake.enqueue(openai_stream(10, stall_after=5, stall=10))
    stalled_at: list[float] = []

    def note(result: object) -> bool:
        if len(stalled_at) == 0 and openai_fake.in_flight and len(getattr(result, "events", [])) == 5:
            stalled_at.append(time.monotonic())
        return False

    result = stream(gateway, stop=note)
    assert result.kinds == ["start", *["text_delta"] * 4, "error", "billing", "done"]
    error = result.first("error")
    assert (error["code"], error["provider"]) == ("timeout", "openai")
    wait_for(lambda: openai_fake.disconnects == 1, 2)
    assert openai_fake.disconnect_times[0] - stalled_at[0] < 0.5 + 0.5  # upstream closed at the timeout
    assert len(openai_fake.received) == 1
    [row] = ledger(gateway)
    assert (row["status"], row["error_code"]) == ("timeout", "timeout")


@pytest.mark.timeout(20)
def test_pings_keep_an_idle_stream_alive_and_do_not_reset_the_idle_clock(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(ping_interval=0.1, idle=2.0))
    openai_fake.enqueue(openai_stream(3, event_delay=0.35))
    result = stream(gateway)
    assert result.text == words_text(3)
    assert result.pings >= 4
    assert result.kinds[-1] == "done" and "error" not in result.kinds


@pytest.mark.timeout(20)
def test_total_timeout_bounds_a_slowly_dripping_stream(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(idle=1.0, total=1.2))
    openai_fake.enqueue(openai_stream(20, event_delay=0.2))
    started = time.monotonic()
    result = stream(gateway)
    assert time.monotonic() - started < 2.0
    assert result.kinds[-3:] == ["error", "billing", "done"]
    assert result.first("error")["code"] == "timeout"
    wait_for(lambda: openai_fake.disconnects == 1, 2)


@pytest.mark.timeout(20)
def test_event_stream_headers_go_out_uncompressed(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(openai_stream(40))
    result = stream(gateway, headers={"Accept-Encoding": "gzip, br, deflate"})
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in result.headers
    assert result.text == words_text(40)


@pytest.mark.timeout(20)
def test_events_leave_as_they_arrive_from_the_first_one(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    """The response is committed with the first event after the vendor's stream-start frame
    (so an error right after that frame can still fall back), then nothing is held back."""
    gateway = make_gateway(config(first_byte=2.0))
    openai_fake.enqueue(openai_stream(3, event_delay=0.5))
    arrivals: list[float] = []
    started = time.monotonic()

    def note(result: SSEResult) -> bool:
        arrivals.append(time.monotonic() - started)
        return False

    result = stream(gateway, stop=note)
    assert result.kinds[:4] == ["start", "text_delta", "text_delta", "text_delta"]
    start, first, second, third = arrivals[:4]
    assert first - start < 0.1  # `start` goes out with the first text, not before the peek ...
    assert start < 0.5 + 0.4  # ... which is the vendor's first text chunk, at 0.5 s
    assert 0.3 < second - first < 0.7 and 0.3 < third - second < 0.7  # no buffering after it
    assert result.text == words_text(3)


@pytest.mark.timeout(20)
def test_a_non_streamed_call_is_bounded_by_the_total_timeout(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, total=0.6))
    openai_fake.enqueue(Reply.fixture("openai/chat.json", delay=5))
    response = post(gateway, OPENAI_ONLY)
    assert response.status_code == 504
    wait_for(lambda: openai_fake.disconnects == 1, 4.5)  # the fake's reply was due at 5 s
    [row] = ledger(gateway)
    assert row["status"] == "timeout"
