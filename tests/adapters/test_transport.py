"""The one stream loop and the one client cache (adapters/transport.py), on in-memory bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import httpx2
import pytest
from msgspec import UNSET

from adapters.base import Opening
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.transport import ClientCache, decode_stream, sse_data, start_of
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, Start, StreamEvent, TextDelta

OPENING = b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
TEXT = b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
FINISH = b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
ERROR = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'


def _response(*chunks: bytes) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return httpx.Response(200, content=body())


async def _events(*chunks: bytes, warnings: list[str] | None = None) -> list[StreamEvent]:
    decoder = sse_data(OpenAIStreamDecoder("openai"))
    return [event async for event in decode_stream(_response(*chunks), decoder, "openai", warnings)]


async def test_the_start_carries_the_warnings_and_comes_first() -> None:
    events = await _events(OPENING, TEXT, FINISH + b"data: [DONE]\n\n", warnings=["x was not sent"])
    assert isinstance(events[0], Start) and events[0].warnings == ["x was not sent"]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert isinstance(events[-1], Finish)
    assert sum(isinstance(e, Start) for e in events) == 1


async def test_warnings_learnt_after_the_call_opened_still_ride_on_the_start() -> None:
    warnings: list[str] = []
    decoder = sse_data(OpenAIStreamDecoder("openai"))
    stream = decode_stream(_response(OPENING, FINISH), decoder, "openai", warnings)
    warnings.append("the model is deprecated")
    first = await anext(stream)
    assert isinstance(first, Start) and first.warnings == ["the model is deprecated"]
    await stream.aclose()


async def test_no_warnings_no_field() -> None:
    events = await _events(OPENING, FINISH)
    assert isinstance(events[0], Start) and events[0].warnings is UNSET


async def test_a_stream_without_its_finish_was_cut() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in decode_stream(
            _response(OPENING, TEXT), sse_data(OpenAIStreamDecoder("openai")), "openai"
        ):
            seen.append(event)
    assert raised.value.code is Code.CONNECTION
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["Hel", "lo"]


async def test_an_error_after_text_in_the_same_chunk_raises_after_that_text() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError):
        async for event in decode_stream(
            _response(OPENING + TEXT + ERROR), sse_data(OpenAIStreamDecoder("openai")), "openai"
        ):
            seen.append(event)
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["Hel", "lo"]


async def test_an_error_in_the_last_frame_without_its_blank_line_raises_after_the_text() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in decode_stream(
            _response(OPENING + TEXT + FINISH + ERROR.rstrip()),
            sse_data(OpenAIStreamDecoder("openai")),
            "openai",
        ):
            seen.append(event)
    assert raised.value.code is not Code.CONNECTION  # the vendor's error, not a cut
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert not any(isinstance(e, Finish) for e in seen)  # the decoder's end never came


async def test_nothing_after_the_vendors_last_word_is_read() -> None:
    garbage = b"data: not json\n\n"
    events = await _events(OPENING + FINISH + b"data: [DONE]\n\n" + garbage, garbage)
    assert isinstance(events[-1], Finish) and sum(isinstance(e, Finish) for e in events) == 1


class _Body:
    """A streamed body that records whether it was closed and how many chunks were read."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.read = 0
        self.closed = False

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.read += 1
            yield chunk
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


async def test_the_response_is_closed_when_the_consumer_leaves_mid_stream() -> None:
    body = _Body(OPENING, TEXT, FINISH)
    stream = decode_stream(body, sse_data(OpenAIStreamDecoder("openai")), "openai")  # type: ignore[arg-type]
    assert isinstance(await anext(stream), Start)
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    assert body.closed and body.read == 1


class _Scripted:
    """A `ChunkDecoder` that gives, for each chunk in turn, the events it was scripted with,
    and learns the vendor's opening on the chunk `says_at` (never, when None)."""

    def __init__(
        self,
        script: list[list[StreamEvent]],
        says_at: int | None = None,
        closing: list[StreamEvent] | None = None,
    ) -> None:
        self._script = script
        self._says_at = says_at
        self._closing = closing or []
        self._fed = 0
        self.opening: Opening | None = None

    @property
    def done(self) -> bool:
        return False

    def feed(self, chunk: bytes) -> Iterator[StreamEvent]:
        if self._fed == self._says_at:
            self.opening = Opening(id="vendor-id", model="vendor-model")
        events = self._script[self._fed]
        self._fed += 1
        yield from events

    def close(self) -> list[StreamEvent]:
        return self._closing


HI = TextDelta(index=0, text="hi")
STOP = Finish(reason="stop", raw_reason="stop")


async def _through(decoder: _Scripted, chunks: int, provider: str = "vendor") -> list[StreamEvent]:
    return [event async for event in decode_stream(_response(*[b"x"] * chunks), decoder, provider)]


async def test_a_decoder_that_says_nothing_of_its_stream_still_opens_with_one_start() -> None:
    events = await _through(_Scripted([[HI], [STOP]]), 2)
    assert events == [Start(id="", model="", provider="vendor"), HI, STOP]


async def test_the_start_holds_what_the_vendor_said_by_the_first_event() -> None:
    events = await _through(_Scripted([[], [HI], [STOP]], says_at=0), 3, provider="pool:gpu")
    assert events == [Start(id="vendor-id", model="vendor-model", provider="pool:gpu"), HI, STOP]


async def test_a_start_a_decoder_yields_never_makes_a_second_one() -> None:
    rogue = Start(id="own", model="own", provider="someone-else")
    events = await _through(_Scripted([[rogue, HI], [rogue, STOP]], says_at=0), 2)
    assert [type(event) for event in events] == [Start, TextDelta, Finish]
    assert events[0] == Start(id="vendor-id", model="vendor-model", provider="vendor")


async def test_a_stream_with_only_its_end_events_opens_with_its_start_at_close() -> None:
    events = await _through(_Scripted([[], []], says_at=1, closing=[HI, STOP]), 2)
    assert events == [Start(id="vendor-id", model="vendor-model", provider="vendor"), HI, STOP]


async def test_a_stream_cut_before_any_event_has_no_start() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in decode_stream(_response(b"x"), _Scripted([[]], says_at=0), "vendor"):
            seen.append(event)
    assert raised.value.code is Code.CONNECTION and seen == []


def test_start_of_is_the_one_constructor() -> None:
    assert start_of("p") == Start(id="", model="", provider="p")
    warned = start_of("p", Opening(id="i", model="m"), ["w"])
    assert warned == Start(id="i", model="m", provider="p", warnings=["w"])


class _Pool:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_one_client_per_key_over_one_pool_built_on_first_use() -> None:
    pools: list[_Pool] = []
    built: list[str] = []
    closed: list[tuple[str, _Pool]] = []

    def make_pool() -> _Pool:
        pools.append(_Pool())
        return pools[-1]

    def build(url: str, pool: _Pool) -> tuple[str, _Pool]:
        built.append(url)
        return url, pool

    async def close(client: tuple[str, _Pool]) -> None:
        closed.append(client)

    cache: ClientCache[str, _Pool, tuple[str, _Pool]] = ClientCache(make_pool, build, close_client=close)
    assert pools == []
    first = cache.get("http://a")
    assert cache.get("http://a") is first
    second = cache.get("http://b")
    assert built == ["http://a", "http://b"] and len(pools) == 1
    assert first[1] is second[1] is pools[0]
    await cache.aclose()
    assert closed == [first, second] and pools[0].closed and len(cache) == 0


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ReadTimeout("slow"), Code.TIMEOUT),
        (httpx2.ReadTimeout("slow"), Code.TIMEOUT),
        (httpx.RemoteProtocolError("gone"), Code.CONNECTION),
        (httpx2.ReadError("gone"), Code.CONNECTION),
    ],
)
async def test_a_transport_failure_mid_stream_is_a_typed_error_and_the_response_is_closed(
    error: Exception, code: Code
) -> None:
    body = _Body(OPENING, error=error)
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in decode_stream(body, sse_data(OpenAIStreamDecoder("openai")), "openai"):  # type: ignore[arg-type]
            seen.append(event)
    assert raised.value.code is code and raised.value.provider == "openai"
    assert [type(event) for event in seen] == [Start, TextDelta]
    assert body.closed
