"""Worker adapters' pure parts: request bodies, stream decoders, error and output shapes, and
the native body → RunRequest mapping. No network."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from adapters.bytez_worker.embeddings import to_vector
from adapters.bytez_worker.errors import classify_bytez_error
from adapters.bytez_worker.request import to_bytez_chat_body
from adapters.bytez_worker.response import from_bytez_chat
from adapters.bytez_worker.stream import BytezStreamDecoder
from adapters.openai_compat import CompletionsStreamDecoder, to_completions_body
from adapters.transport import sse_data
from adapters.workers import collect_chat
from proxy.surfaces.native.decode import takes_chat_path
from proxy.surfaces.native.tasks import run_request
from schemas.chat import ChatRequest, FunctionDefinition, Sampling, Tool, UserMessage
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import Finish, Start, StreamEvent, TextDelta, ToolCallDelta, ToolCallStart, UsageEvent
from schemas.native import NativeBody
from schemas.tasks import RunRequest
from tests.adapters.streams import through_the_loop
from tests.fakes.bytez import ANSWER, STACK_TRACE, openai_mode_stream
from tests.fakes.vllm import COMPLETION_TEXT, completion_stream

P = "pool:test"


def feed_in_pieces(
    decoder: BytezStreamDecoder | CompletionsStreamDecoder, raw: bytes, size: int
) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    if isinstance(decoder, BytezStreamDecoder):
        for start in range(0, len(raw), size):
            events += decoder.feed(raw[start : start + size])
        return events + decoder.close()
    for line in raw.decode().split("\n\n"):
        if line.startswith("data: "):
            events += decoder.feed(line[6:])
    return events + decoder.close()


def pieces(raw: bytes, size: int) -> list[bytes]:
    return [raw[start : start + size] for start in range(0, len(raw), size)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_bytez_openai_mode_stream_split_anywhere(size: int) -> None:
    raw = b"".join(openai_mode_stream("m"))
    decoder = BytezStreamDecoder(P)
    events = await through_the_loop(decoder, *pieces(raw, size), provider=P)
    assert isinstance(events[0], Start) and events[0].provider == P and events[0].model == "m"
    assert sum(isinstance(event, Start) for event in events) == 1
    assert text_of(events) == ANSWER
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
async def test_bytez_raw_stream_split_anywhere_even_inside_a_character(size: int) -> None:
    raw = "Träume sind — data of the mind 🌙".encode()
    events = await through_the_loop(BytezStreamDecoder(P), *pieces(raw, size), provider=P)
    assert events[0] == Start(id="", model="", provider=P)  # raw text says nothing of itself
    assert sum(isinstance(event, Start) for event in events) == 1
    assert text_of(events) == "Träume sind — data of the mind 🌙"
    assert isinstance(events[-2], UsageEvent) and isinstance(events[-1], Finish)


def test_bytez_raw_stream_error_marker_and_empty_stream() -> None:
    decoder = BytezStreamDecoder(P)
    decoder.feed(b"Hello ")
    with pytest.raises(UpstreamError) as caught:
        decoder.feed(
            b'INTERNAL_BYTEZ_ERROR: arg "stream" was likely passed to a model that does not support it'
        )
    assert caught.value.code is Code.SERVER_ERROR
    with pytest.raises(UpstreamError) as empty:
        BytezStreamDecoder(P).close()
    assert empty.value.code is Code.CONNECTION


def test_container_errors_keep_the_message_and_drop_the_trace() -> None:
    body = msgspec.json.encode({"error": "'text'", "stack_trace": STACK_TRACE})
    error = classify_bytez_error(422, body, P)
    assert error.code is Code.INVALID_REQUEST and error.message == "pool:test: 'text'"
    assert "Traceback" not in error.message
    loading = classify_bytez_error(503, b"", P)
    assert loading.code is Code.OVERLOADED and loading.retryable
    assert classify_bytez_error(500, b"<html>", P).code is Code.SERVER_ERROR


def test_default_mode_chat_answer_reads_the_last_message() -> None:
    raw = msgspec.json.encode(
        {
            "output": [
                {"generated_text": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a!"}]}
            ]
        }
    )
    response = from_bytez_chat(raw, P)
    assert response.content == "a!" and response.finish_reason == "stop"


def test_bytez_chat_body_reads_text_and_maps_sampling() -> None:
    warnings: list[str] = []
    request = ChatRequest(
        model="m",
        messages=[UserMessage(content="hi")],
        sampling=Sampling(max_tokens=9, temperature=0.2, seed=3),
        extra={"repetition_penalty": 1.1},
    )
    body = to_bytez_chat_body(request, P, warnings)
    assert body == {
        "text": [{"role": "user", "content": "hi"}],
        "stream": True,
        "params": {
            "repetition_penalty": 1.1,
            "max_new_tokens": 9,
            "temperature": 0.2,
            "compliance_format": "openai://chat/completions",
        },
    }
    assert warnings == ["seed is not supported by pool:test; it was not sent"]
    with pytest.raises(GatewayError) as caught:
        to_bytez_chat_body(
            msgspec.structs.replace(request, tools=[Tool(function=FunctionDefinition(name="f"))]), P, []
        )
    assert caught.value.code is Code.UNSUPPORTED


def test_completions_body_maps_hugging_face_names() -> None:
    request = RunRequest(
        model="gpt2",
        task="text-generation",
        text="Once",
        params={
            "max_new_tokens": 5,
            "do_sample": False,
            "stop": "\n",
            "return_full_text": False,
            "min_p": 0.1,
        },
    )
    assert to_completions_body(request, "gpt2") == {
        "max_tokens": 5,
        "stop": ["\n"],
        "min_p": 0.1,
        "temperature": 0.0,
        "model": "gpt2",
        "prompt": "Once",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_completions_stream_decodes_with_usage_last() -> None:
    raw = b"".join(completion_stream("gpt2").events or [])
    events = feed_in_pieces(CompletionsStreamDecoder(P), raw, 0)
    assert text_of(events) == COMPLETION_TEXT
    usage, finish = events[-2], events[-1]
    assert isinstance(usage, UsageEvent) and usage.input_tokens == 24
    assert isinstance(finish, Finish) and finish.reason == "length"
    assert CompletionsStreamDecoder(P).close() == []  # no finish: the loop says it was cut
    unfinished = [frame for frame in completion_stream("gpt2").events or [] if b'"length"' not in frame]
    with pytest.raises(UpstreamError) as cut:
        await through_the_loop(sse_data(CompletionsStreamDecoder(P)), *unfinished)
    assert cut.value.code is Code.CONNECTION


async def test_collect_chat_assembles_text_tools_and_usage() -> None:
    async def events() -> AsyncIterator[StreamEvent]:
        for event in (
            Start(id="x", model="m", provider=P),
            TextDelta(index=0, text="Hi"),
            ToolCallStart(index=0, id="call_1", name="f"),
            ToolCallDelta(index=0, arguments='{"a"'),
            ToolCallDelta(index=0, arguments=":1}"),
            UsageEvent(input_tokens=3, output_tokens=2),
            Finish(reason="tool_calls", raw_reason="tool_calls"),
        ):
            yield event

    response = await collect_chat(events())
    assert response.content == "Hi" and response.id == "x"
    assert response.tool_calls and response.tool_calls[0].function.arguments == '{"a":1}'
    assert response.usage.input_tokens == 3 and response.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("output", "vector"),
    [
        ([1, 2], [1.0, 2.0]),
        ([[1, 2]], [1.0, 2.0]),
        ([[[1, 2], [3, 4]]], [2.0, 3.0]),
        ([[1, 2], [3, 4]], [2.0, 3.0]),
    ],
)
def test_feature_extraction_outputs_become_one_vector(output: object, vector: list[float]) -> None:
    assert to_vector(output, P) == vector


@pytest.mark.parametrize("output", [None, [], ["a"], [[1, 2], [3]], {"x": 1}])
def test_unreadable_feature_outputs_are_a_server_error(output: object) -> None:
    with pytest.raises(UpstreamError) as caught:
        to_vector(output, P)
    assert caught.value.code is Code.SERVER_ERROR


def native(**fields: object) -> NativeBody:
    return msgspec.convert(fields, NativeBody)


def test_input_maps_by_task_like_the_bytez_sdks() -> None:
    assert run_request("m", "text-generation", native(input="Once")).text == "Once"
    image = run_request("m", "image-classification", native(input="data:image/png;base64,AAAA"))
    assert image.base64 == "data:image/png;base64,AAAA"
    labels = run_request(
        "m", "zero-shot-classification", native(input={"text": "t", "candidate_labels": ["a"]})
    )
    assert (labels.text, labels.candidate_labels) == ("t", ["a"])
    other = run_request("m", "text-to-3d", native(input={"prompt": "a chair"}))
    assert other.input == {"prompt": "a chair"}
    streamed = run_request("m", "feature-extraction", native(text="x", stream=True))
    assert streamed.stream is False, "only text generation streams"
    cleaned = run_request(
        "m", "text-generation", native(text="x", params={"base_url": "http://evil", "top_k": 3})
    )
    assert cleaned.params == {"top_k": 3}


@pytest.mark.parametrize(
    ("task", "fields"),
    [
        ("text-generation", {"url": "https://x"}),
        ("question-answering", {"question": "q"}),
        ("image-classification", {"text": "no image"}),
        ("image-classification", {"url": "file:///etc/passwd"}),
        ("zero-shot-classification", {"text": "t"}),
        ("zero-shot-classification", {"input": {"text": "t", "candidate_labels": "a"}}),
        ("text-to-3d", {}),
    ],
)
def test_a_task_without_its_input_is_a_400(task: str, fields: dict[str, object]) -> None:
    with pytest.raises(GatewayError) as caught:
        run_request("m", task, native(**fields))
    assert caught.value.code is Code.INVALID_REQUEST and caught.value.status == 400


def test_messages_to_a_chat_capable_model_take_the_chat_path() -> None:
    messages = native(messages=[{"role": "user", "content": "hi"}])
    assert takes_chat_path("chat", native(text="hi"))
    assert takes_chat_path("text-generation", messages)
    assert not takes_chat_path("text-generation", native(text="hi"))
    assert not takes_chat_path("feature-extraction", messages)
