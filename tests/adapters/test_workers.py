"""adapters/workers.py: a worker's stream turned back into one answer. The collectors read an
adapter's stream, whose end the one loop (adapters/transport.py `decode_stream`) decides: a
cut stream raises there, and the collector passes that error on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.openai.stream import OpenAIStreamDecoder
from adapters.transport import decode_stream, sse_data
from adapters.workers import collect_chat, collect_text
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent
from tests.adapters.streams import in_memory

P = "pool:gpu"


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + msgspec.json.encode({"id": "c1", "model": "llama", "choices": [choice]}) + b"\n\n"


HELLO = _chunk({"role": "assistant", "content": "Hel"})
LO = _chunk({"content": "lo"})
STOP = _chunk({}, "stop")


def _stream(*chunks: bytes) -> AsyncIterator[StreamEvent]:
    return decode_stream(in_memory(*chunks), sse_data(OpenAIStreamDecoder(P)), P)


async def test_a_whole_stream_is_one_answer_with_the_vendor_s_id_and_finish() -> None:
    answer = await collect_chat(_stream(HELLO, LO, STOP, b"data: [DONE]\n\n"))
    assert (answer.id, answer.model, answer.content) == ("c1", "llama", "Hello")
    assert (answer.finish_reason, answer.raw_finish_reason) == ("stop", "stop")


async def test_a_cut_stream_raises_the_loop_s_cut_not_an_answer() -> None:
    with pytest.raises(UpstreamError) as cut:
        await collect_chat(_stream(HELLO, LO))
    assert cut.value.code is Code.CONNECTION and cut.value.provider == P
    with pytest.raises(UpstreamError) as text_cut:
        await collect_text(_stream(HELLO))
    assert text_cut.value.code is Code.CONNECTION
