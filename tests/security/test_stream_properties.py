"""B6 and B7 as properties: the SSE parser and every vendor's stream decoder are indifferent
to where the network splits the bytes, and a vendor's stream says what its reply says."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.anthropic.stream import AnthropicStreamDecoder
from adapters.cohere.stream import CohereStreamDecoder
from adapters.gemini.stream import GeminiStreamDecoder
from adapters.mistral.request import MISTRAL
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.sse import ServerSentEvent, SSEDecoder
from schemas.events import StreamEvent, TextDelta, UsageEvent
from tests.fakes.kit import VendorKit
from tests.fakes.server import fixture_bytes

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# B6: the SSE parser ----------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)
_NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n:"), max_size=8)
_ENDING = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_stream(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """Encoded events with comments, `id:` lines, `data:` with and without the space, and
    mixed line endings; returns the bytes and the events a correct parser must yield."""
    lines: list[tuple[str, str]] = []
    expected: list[ServerSentEvent] = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(_NAME)
        data = draw(st.lists(_TEXT, min_size=1, max_size=3))
        if draw(st.booleans()):
            lines.append((": " + draw(_TEXT), draw(_ENDING)))
        if name:
            spaced = name.startswith(" ") or draw(st.booleans())
            lines.append((f"event:{' ' if spaced else ''}{name}", draw(_ENDING)))
        if draw(st.booleans()):
            lines.append(("id: " + draw(_TEXT), draw(_ENDING)))
        for value in data:
            spaced = value.startswith(" ") or draw(st.booleans())
            lines.append((f"data:{' ' if spaced else ''}{value}", draw(_ENDING)))
        lines.append(("", draw(_ENDING)))
        expected.append(ServerSentEvent(name, "\n".join(data)))
    text = ""
    previous = ""
    for content, ending in lines:
        if previous == "\r" and not content and ending == "\n":
            ending = "\r\n"  # CR then LF is one line end by definition, not two
        text += content + ending
        previous = ending
    return text.encode("utf-8"), expected


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(raw) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(raw[start:point])
        start = point
    pieces.append(raw[start:])
    return pieces


@BOUNDED
@given(sse_stream(), st.lists(st.integers(0, 10_000), max_size=40))
def test_sse_parser_reassembles_any_split(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    raw, expected = stream
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in _split(raw, cuts):
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    assert events == expected


@BOUNDED
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=20))
def test_sse_parser_never_crashes_on_garbage_and_ignores_splits(raw: bytes, cuts: list[int]) -> None:
    whole = SSEDecoder()
    reference = whole.feed(raw) + whole.flush()
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in _split(raw, cuts):
        events.extend(decoder.feed(piece))
    assert events + decoder.flush() == reference


# B7: each vendor's stream decoder --------------------------------------------------------


def _decode(vendor: str, kit: VendorKit, pieces: list[bytes]) -> list[StreamEvent]:
    frames = SSEDecoder()
    sse: list[ServerSentEvent] = []
    for piece in pieces:
        sse.extend(frames.feed(piece))
    sse.extend(frames.flush())
    decoder: Any
    if vendor == "openai":
        decoder = OpenAIStreamDecoder("openai")
    elif vendor == "mistral":
        decoder = OpenAIStreamDecoder("mistral", MISTRAL)
    elif vendor == "anthropic":
        decoder = AnthropicStreamDecoder("anthropic")
    elif vendor == "gemini":
        decoder = GeminiStreamDecoder("gemini", kit.model)
    else:
        decoder = CohereStreamDecoder(kit.model)
    events: list[StreamEvent] = []
    for frame in sse:
        if getattr(decoder, "done", False):
            break
        if vendor == "anthropic":
            events.extend(decoder.feed(frame.event, frame.data))
        else:
            events.extend(decoder.feed(frame.data))
    events.extend(decoder.close())
    return events


def _kit(vendor: str) -> VendorKit:
    import importlib

    kit: VendorKit = importlib.import_module(f"tests.fakes.{vendor}").KIT
    return kit


VENDOR_STREAMS = [
    (vendor, fixture)
    for vendor in ("openai", "anthropic", "gemini", "cohere", "mistral")
    for fixture in ("chat-stream.sse", "tool-stream.sse", "tools-multi-stream.sse")
]


@given(st.sampled_from(VENDOR_STREAMS), st.lists(st.integers(0, 100_000), max_size=60))
@BOUNDED
def test_vendor_stream_decoders_ignore_where_bytes_split(case: tuple[str, str], cuts: list[int]) -> None:
    vendor, fixture = case
    kit = _kit(vendor)
    raw = fixture_bytes(f"{vendor}/{fixture}")
    whole = _decode(vendor, kit, [raw])
    assert _decode(vendor, kit, _split(raw, cuts)) == whole


def test_joined_deltas_equal_the_non_stream_text_and_usage_matches() -> None:
    for vendor in ("openai", "anthropic", "gemini", "cohere", "mistral"):
        kit = _kit(vendor)
        events = _decode(vendor, kit, [fixture_bytes(f"{vendor}/chat-stream.sse")])
        text = "".join(event.text for event in events if isinstance(event, TextDelta))
        assert text == kit.text, vendor
        usage = [event for event in events if isinstance(event, UsageEvent)]
        assert len(usage) == 1, vendor
        assert (usage[0].input_tokens, usage[0].output_tokens) == kit.usage, vendor
