from __future__ import annotations

import pytest

from adapters.sse import ServerSentEvent, SSEDecoder
from tests.fakes.server import fixture_bytes

STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": a comment\n\n"
    b"data:no-space\n\n"
    b"event: multi\r\ndata: line one\r\ndata: line two \xc3\xa9\xe2\x82\xac\r\n\r\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent("message_start", '{"a": 1}'),
    ServerSentEvent("", "no-space"),
    ServerSentEvent("multi", "line one\nline two é€"),
    ServerSentEvent("", "[DONE]"),
]


def decode_in_pieces(raw: bytes, size: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for start in range(0, len(raw), size):
        events.extend(decoder.feed(raw[start : start + size]))
    events.extend(decoder.flush())
    return events


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_any_split_reassembles_identically(size: int) -> None:
    assert decode_in_pieces(STREAM, size) == EXPECTED


def test_every_split_point_including_inside_utf8_and_crlf() -> None:
    for cut in range(1, len(STREAM)):
        decoder = SSEDecoder()
        events = decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:]) + decoder.flush()
        assert events == EXPECTED, cut


def test_cr_only_line_endings() -> None:
    assert decode_in_pieces(b"event: x\rdata: y\r\r", 1) == [ServerSentEvent("x", "y")]


def test_a_final_event_without_blank_line_is_flushed() -> None:
    assert decode_in_pieces(b"data: tail", 3) == [ServerSentEvent("", "tail")]


def test_openai_fixture_frames() -> None:
    events = decode_in_pieces(fixture_bytes("openai/chat-stream.sse"), 13)
    assert events[-1].data == "[DONE]"
    assert len(events) == 13
