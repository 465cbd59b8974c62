"""U8: a vendor connection that dies mid-stream, through the fault proxy on real sockets.

The cut point is found by calibration: one clean response through the proxy gives the
exact bytes, and the next identical response is cut right after its 20th text chunk.
"""

from __future__ import annotations

import pytest

from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.server import FakeVendor
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    config,
    ledger,
    openai_frames,
    openai_stream,
    stream,
    wait_for,
    words_text,
)

WORDS = 30
CUT_AFTER_WORDS = 20


def calibrate(proxy: FaultProxy) -> int:
    """Response bytes up to and including the chunk that carries word CUT_AFTER_WORDS - 1."""
    raw = bytes(proxy.responses[-1])
    frame = openai_frames(WORDS)[CUT_AFTER_WORDS]  # frame 0 is the role chunk
    return raw.index(frame) + len(frame) + len(b"\r\n")  # the chunked encoding's trailer


@pytest.mark.timeout(20)
@pytest.mark.parametrize("fault", ["reset_peer", "limit_data"])
def test_u8_a_connection_lost_mid_stream_ends_with_an_error_event_not_a_clean_end(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, fault_proxy: FaultProxy, fault: str
) -> None:
    gateway = make_gateway(config(), openai_url=fault_proxy.url)
    openai_fake.responder = lambda _: openai_stream(WORDS, event_delay=0.01)
    clean = stream(gateway)
    assert clean.text == words_text(WORDS)
    setattr(fault_proxy.toxics, fault, calibrate(fault_proxy))

    result = stream(gateway)
    assert result.status == 200
    assert result.kinds == ["start", *["text_delta"] * CUT_AFTER_WORDS, "error", "billing", "done"]
    assert result.text == words_text(CUT_AFTER_WORDS)
    error = result.first("error")
    assert (error["code"], error["provider"], error["retryable"]) == ("connection", "openai", True)
    assert "finish" not in result.kinds
    assert len(openai_fake.received) == 2  # the clean run and the cut one: no retry, no replay
    wait_for(lambda: openai_fake.disconnects == 1, 2)
    first, cut = ledger(gateway, count=2)
    assert first["status"] == "completed"
    assert (cut["status"], cut["error_code"], cut["attempts"]) == ("upstream_error", "connection", 1)
    assert cut["output_tokens"] == CUT_AFTER_WORDS  # estimated from what was streamed
    assert cut["cost"] == pytest.approx(CUT_AFTER_WORDS * 0.60 / 1e6)
    assert result.first("billing")["cost"] == cut["cost"], "the client is billed what the ledger has"


@pytest.mark.timeout(20)
def test_u8_a_reset_right_after_the_headers_is_retried_then_falls_back(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor, fault_proxy: FaultProxy
) -> None:
    gateway = make_gateway(config(), openai_url=fault_proxy.url)
    openai_fake.responder = lambda _: openai_stream(3)
    assert stream(gateway).text == words_text(3)
    raw = bytes(fault_proxy.responses[-1])
    fault_proxy.toxics.reset_peer = raw.index(b"\r\n\r\n") + 4  # the headers, not one event
    result = stream(gateway)
    assert result.first("start")["provider"] == "anthropic"
    assert result.kinds[-1] == "done" and "error" not in result.kinds
    assert len(openai_fake.received) == 1 + 3 and len(anthropic_fake.received) == 1
    assert ledger(gateway, count=2)[1]["attempts"] == 4


@pytest.mark.timeout(20)
def test_u8_a_connection_dropped_before_any_event_is_retried(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(openai_stream(3, cut_after=0), openai_stream(3))
    result = stream(gateway)
    assert result.text == words_text(3)
    assert result.kinds[-1] == "done" and "error" not in result.kinds
    assert len(openai_fake.received) == 2
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"]) == ("completed", 2)


@pytest.mark.timeout(20)
def test_u8_the_stream_survives_tiny_segments_and_latency(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, fault_proxy: FaultProxy
) -> None:
    gateway = make_gateway(config(), openai_url=fault_proxy.url)
    openai_fake.responder = lambda _: openai_stream(12)
    fault_proxy.toxics.slice_size = 3
    fault_proxy.toxics.latency = 0.01
    result = stream(gateway)
    assert result.text == words_text(12)
    assert result.kinds[-1] == "done" and "error" not in result.kinds
