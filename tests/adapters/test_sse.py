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


LF_STREAM = (
    b'data: {"a": "\xc3\xa9\xe2\x82\xac"}\n\nevent: e\ndata: one\ndata:two\n\n: note\ndata: [DONE]\n\n'
)
LF_EXPECTED = [
    ServerSentEvent("", '{"a": "é€"}'),
    ServerSentEvent("e", "one\ntwo"),
    ServerSentEvent("", "[DONE]"),
]


def test_lf_only_streams_at_every_split_point_including_inside_a_character() -> None:
    for cut in range(1, len(LF_STREAM)):
        decoder = SSEDecoder()
        events = decoder.feed(LF_STREAM[:cut]) + decoder.feed(LF_STREAM[cut:]) + decoder.flush()
        assert events == LF_EXPECTED, cut


def test_a_character_split_exactly_after_a_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: \xe2") == [ServerSentEvent("", "a")]
    assert decoder.feed(b"\x82\xac\n\n") == [ServerSentEvent("", "€")]


@pytest.mark.parametrize("size", [1, 2, 10_000])
def test_cr_only_and_mixed_line_endings_whole_and_split(size: int) -> None:
    raw = b"event: x\rdata: y\r\rdata: a\r\ndata: b\n\r\ndata: c\n\n"
    expected = [ServerSentEvent("x", "y"), ServerSentEvent("", "a\nb"), ServerSentEvent("", "c")]
    assert decode_in_pieces(raw, size) == expected


def test_lf_chunks_then_a_cr_chunk_then_lf_again() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [ServerSentEvent("", "a")]
    assert decoder.feed(b"\r\r") == [ServerSentEvent("", "b")]
    assert decoder.feed(b"data: c\r") == []
    assert decoder.feed(b"\n\n") == [ServerSentEvent("", "c")]  # the CR's LF ends no second line
    assert decoder.feed(b"data: d\n\n") == [ServerSentEvent("", "d")]


def test_a_lone_lf_after_a_chunk_ending_on_cr_is_not_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: b\n\n") == [ServerSentEvent("", "a\nb")]


def test_only_cr_and_lf_end_lines() -> None:
    raw = "data: a\x0bb\x0cc\x1cd\x85e\u2028f\u2029g\n\n".encode()
    assert decode_in_pieces(raw, 10_000) == [ServerSentEvent("", "a\x0bb\x0cc\x1cd\x85e\u2028f\u2029g")]


@pytest.mark.parametrize("ending", [b"\n", b"\r", b"\r\n"])
def test_invalid_utf8_is_replaced_per_line_whatever_the_line_end(ending: bytes) -> None:
    raw = b"data: \xff" + ending + b"data: \xe2\x82" + ending + ending + b"data: \xc3"
    expected = [ServerSentEvent("", "\ufffd\n\ufffd"), ServerSentEvent("", "\ufffd")]
    assert decode_in_pieces(raw, 10_000) == expected
    assert decode_in_pieces(raw, 1) == expected


def test_field_names_and_the_one_optional_space() -> None:
    raw = b"data\n\ndata:  two spaces\nevent:name\nid: 7\nretry: 10\nunknown\n\n"
    assert decode_in_pieces(raw, 10_000) == [ServerSentEvent("", ""), ServerSentEvent("name", " two spaces")]
