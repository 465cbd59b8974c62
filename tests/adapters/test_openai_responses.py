"""adapters/openai/responses.py straight from the Responses fixtures (the OpenAI spec's examples)."""

from __future__ import annotations

import msgspec
import pytest

from adapters.openai.responses import ResponsesStreamDecoder, from_responses_answer, to_responses_body
from adapters.transport import sse_data
from schemas.errors import Code, UpstreamError
from schemas.events import (
    Finish,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageEvent,
    VendorFrame,
)
from tests.adapters.streams import through_the_loop
from tests.fakes.openai import RESPONSES_MID_STREAM_ERROR
from tests.fakes.server import fixture_bytes, sse_frames


def _decode(frames: list[bytes], decoder: ResponsesStreamDecoder | None = None) -> list[StreamEvent]:
    decoder = decoder or ResponsesStreamDecoder("openai")
    events: list[StreamEvent] = []
    for frame in frames:
        data = next(line for line in frame.decode().splitlines() if line.startswith("data: "))
        events.extend(decoder.feed(data.removeprefix("data: ")))
    events.extend(decoder.close())
    return events


def test_the_body_keeps_everything_but_the_model() -> None:
    body = {"model": "openai/gpt-4.1-mini", "input": "x", "tools": [{"type": "web_search"}], "store": False}
    sent = msgspec.json.decode(to_responses_body(body, "gpt-4.1-mini", stream=True))
    assert sent == {**body, "model": "gpt-4.1-mini", "stream": True}


def test_a_text_answer() -> None:
    raw = fixture_bytes("openai-responses/text.json")
    answer = from_responses_answer(raw, "openai")
    assert answer.content is not None and answer.content.startswith("In a peaceful grove")
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (36, 87)
    assert answer.finish_reason == "stop"
    assert bytes(answer.raw) == raw


def test_a_function_call_and_reasoning() -> None:
    call = from_responses_answer(fixture_bytes("openai-responses/function-call.json"), "openai")
    assert call.finish_reason == "tool_calls"
    assert isinstance(call.tool_calls, list)
    assert call.tool_calls[0].id == "call_unLAR8MvFNptuiZK6K6HCy5k"
    assert call.tool_calls[0].function.name == "get_current_weather"
    reasoning = from_responses_answer(fixture_bytes("openai-responses/reasoning.json"), "openai")
    assert reasoning.usage.reasoning_tokens == 832
    assert isinstance(reasoning.reasoning, list) and "tongue twister" in reasoning.reasoning[0].text


def test_the_stream_passes_every_event_on_beside_its_meaning() -> None:
    frames = sse_frames(fixture_bytes("openai-responses/stream.sse"))
    decoder = ResponsesStreamDecoder("openai")
    events = _decode(frames, decoder)
    assert decoder.opening is not None and decoder.opening.id.startswith("resp_")
    assert not any(isinstance(event, Start) for event in events)
    assert sum(isinstance(event, VendorFrame) for event in events) == len(frames)
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text == "Hi there! How can I assist you today?"
    usage = next(event for event in events if isinstance(event, UsageEvent))
    assert (usage.input_tokens, usage.output_tokens) == (37, 11)
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"


def test_a_streamed_function_call() -> None:
    events = _decode(sse_frames(fixture_bytes("openai-responses/function-call-stream.sse")))
    [start] = [event for event in events if isinstance(event, ToolCallStart)]
    assert (start.id, start.name) == ("call_unLAR8MvFNptuiZK6K6HCy5k", "get_current_weather")
    arguments = "".join(event.arguments for event in events if isinstance(event, ToolCallDelta))
    assert msgspec.json.decode(arguments) == {"location": "Boston, MA", "unit": "celsius"}
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_an_error_event_raises_and_a_cut_stream_is_no_clean_end() -> None:
    with pytest.raises(UpstreamError) as raised:
        _decode(RESPONSES_MID_STREAM_ERROR.events)
    assert raised.value.code is Code.SERVER_ERROR
    frames = sse_frames(fixture_bytes("openai-responses/stream.sse"))
    decoder = ResponsesStreamDecoder("openai")
    assert not any(isinstance(event, Finish) for event in _decode(frames[:-1], decoder))
    assert decoder.close() == []  # the decoder decides nothing: the loop says it was cut
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as cut:
        await through_the_loop(sse_data(ResponsesStreamDecoder("openai")), *frames[:-1], seen=seen)
    assert cut.value.code is Code.CONNECTION and cut.value.provider == "vendor"
    assert "".join(event.text for event in seen if isinstance(event, TextDelta))


async def test_a_stream_that_ends_incomplete_is_finished_not_cut() -> None:
    """A Finish with no `response.completed` (`response.incomplete`, as at max_output_tokens)
    is the stream's clean end, as it was when the decoder checked the end itself."""
    frames = sse_frames(fixture_bytes("openai-responses/stream.sse"))
    last = msgspec.json.decode(frames[-1].decode().split("data: ", 1)[1])
    assert last["type"] == "response.completed"
    last["type"] = "response.incomplete"
    last["response"].update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    incomplete = b"event: response.incomplete\ndata: " + msgspec.json.encode(last) + b"\n\n"
    events = await through_the_loop(sse_data(ResponsesStreamDecoder("openai")), *frames[:-1], incomplete)
    assert isinstance(events[0], Start) and events[0].id.startswith("resp_")
    assert events[-1] == Finish(reason="length", raw_reason="max_output_tokens")
