"""The stream encoders and embedding decoders on event sequences no fake vendor produces."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.cohere.embeddings import from_cohere_embeddings
from adapters.gemini.embeddings import from_gemini_embeddings
from adapters.openai.embeddings import from_openai_embeddings
from proxy.surfaces.anthropic.encode import EventEncoder
from proxy.surfaces.openai.encode import ChunkEncoder
from schemas.errors import Code, UpstreamError
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
    ToolCallStart,
    UsageEvent,
)


def anthropic_frames(events: list[StreamEvent]) -> list[tuple[str, dict[str, Any]]]:
    encoder = EventEncoder("msg_1", "google/gemini-2.5-flash")
    raw = b"".join(encoder.encode(event) for event in events).decode()
    frames = []
    for frame in (f for f in raw.split("\n\n") if f):
        name, data = frame.split("\n")
        frames.append((name.removeprefix("event: "), msgspec.json.decode(data.removeprefix("data: "))))
    return frames


def test_anthropic_blocks_open_and_close_in_order() -> None:
    frames = anthropic_frames(
        [
            Start(id="r", model="m", provider="gemini"),
            ReasoningDelta(index=0, text="think"),
            ReasoningDelta(index=0, text="", signature="sig-1"),
            ReasoningDelta(index=0, text="again"),
            ReasoningDelta(index=0, text="", redacted="opaque"),
            TextDelta(index=0, text="Hi"),
            ToolCallStart(index=0, id="call_a", name="a"),
            ToolCallDelta(index=0, arguments='{"x":'),
            ToolCallDelta(index=0, arguments="1}"),
            ToolCallStart(index=1, id="call_b", name="b"),
            ToolCallDelta(index=1, arguments="{}"),
            UsageEvent(input_tokens=10, output_tokens=5, cached_input_tokens=4),
            Finish(reason="tool_calls", raw_reason="STOP"),
            Billing(meter="tokens", meter_price=None, inference_time=0.1, cost=0.5),
            Done(),
        ]
    )
    starts = [
        (data["index"], data["content_block"]) for name, data in frames if name == "content_block_start"
    ]
    assert starts == [
        (0, {"type": "thinking", "thinking": "", "signature": ""}),
        (1, {"type": "thinking", "thinking": "", "signature": ""}),
        (2, {"type": "redacted_thinking", "data": "opaque"}),
        (3, {"type": "text", "text": ""}),
        (4, {"type": "tool_use", "id": "call_a", "name": "a", "input": {}}),
        (5, {"type": "tool_use", "id": "call_b", "name": "b", "input": {}}),
    ]
    open_blocks: set[int] = set()
    for name, data in frames:
        if name == "content_block_start":
            assert not open_blocks, "a block started while another was open"
            open_blocks.add(data["index"])
        elif name == "content_block_delta":
            assert data["index"] in open_blocks
        elif name == "content_block_stop":
            open_blocks.remove(data["index"])
    assert not open_blocks
    deltas = [(data["index"], data["delta"]) for name, data in frames if name == "content_block_delta"]
    assert (0, {"type": "signature_delta", "signature": "sig-1"}) in deltas
    assert [d["partial_json"] for i, d in deltas if i == 4] == ['{"x":', "1}"]
    name, message_delta = frames[-2]
    assert name == "message_delta"
    assert message_delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert message_delta["usage"] == {
        "input_tokens": 6,
        "output_tokens": 5,
        "cache_read_input_tokens": 4,
        "cost": 0.5,
    }
    assert frames[-1] == ("message_stop", {"type": "message_stop"})


def test_anthropic_error_ends_the_stream_without_message_stop() -> None:
    frames = anthropic_frames(
        [
            Start(id="r", model="m", provider="openai"),
            TextDelta(index=0, text="Hel"),
            Ping(),
            ErrorEvent(code=Code.OVERLOADED, message="openai: busy", retryable=True),
            Done(),
        ]
    )
    names = [name for name, _ in frames]
    assert names == ["message_start", "content_block_start", "content_block_delta", "ping", "error"]
    assert frames[-1][1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "openai: busy"},
    }


def test_anthropic_raw_stop_reason_passes_through_when_it_is_anthropics() -> None:
    frames = anthropic_frames(
        [
            Start(id="r", model="m", provider="anthropic"),
            Finish(reason="stop", raw_reason="stop_sequence"),
            Billing(meter="tokens", meter_price=None, inference_time=0.1, cost=None),
        ]
    )
    assert frames[-2][1]["delta"]["stop_reason"] == "stop_sequence"


def test_openai_chunks_for_an_error_and_a_ping() -> None:
    encoder = ChunkEncoder("chatcmpl-1", "m", 1, include_usage=False)
    assert encoder.encode(Ping()) == b": ping\n\n"
    assert encoder.encode(UsageEvent(input_tokens=1, output_tokens=1)) == b""
    assert encoder.encode(Billing(meter="tokens", meter_price=None, inference_time=0.1, cost=None)) == b""
    error = encoder.encode(ErrorEvent(code=Code.TIMEOUT, message="gemini stalled", retryable=True))
    assert msgspec.json.decode(error.removeprefix(b"data: ")) == {
        "error": {"message": "gemini stalled", "type": "api_error", "code": "timeout", "param": None}
    }
    assert encoder.encode(Done()) == b"data: [DONE]\n\n"


def test_openai_signature_only_reasoning_has_no_chunk() -> None:
    encoder = ChunkEncoder("chatcmpl-1", "m", 1, include_usage=True)
    assert encoder.encode(ReasoningDelta(index=0, text="", signature="sig")) == b""
    chunk = msgspec.json.decode(encoder.encode(ReasoningDelta(index=0, text="hm")).removeprefix(b"data: "))
    assert chunk["choices"][0]["delta"] == {"reasoning_content": "hm"}
    assert chunk["usage"] is None


@pytest.mark.parametrize(
    "decode",
    [
        lambda raw: from_openai_embeddings(raw, "openai", 2),
        lambda raw: from_gemini_embeddings(raw, 2),
        lambda raw: from_cohere_embeddings(raw, 2),
    ],
)
@pytest.mark.parametrize("raw", [b"not json", b'{"data": [], "embeddings": {"float": [[1.0]]}}'])
def test_broken_or_short_embedding_replies_are_server_errors(decode: Any, raw: bytes) -> None:
    with pytest.raises(UpstreamError) as caught:
        decode(raw)
    assert caught.value.code is Code.SERVER_ERROR


def test_openai_embeddings_come_back_in_index_order() -> None:
    raw = b'{"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]}'
    assert from_openai_embeddings(raw, "openai", 2).vectors == [[1.0], [2.0]]
