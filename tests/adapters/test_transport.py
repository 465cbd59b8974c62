"""The one stream loop and the one client cache (adapters/transport.py), on in-memory bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from msgspec import UNSET

from adapters.openai.stream import OpenAIStreamDecoder
from adapters.transport import ClientCache, decode_stream, sse_data
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
