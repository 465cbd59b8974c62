"""OpenAI translation, straight from fixtures: pure functions, no network."""

from __future__ import annotations

import msgspec
import pytest

from adapters.openai.errors import classify_openai_error_body
from adapters.openai.request import Dialect, to_openai_body
from adapters.openai.response import from_openai_response, map_openai_finish_reason
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.sse import SSEDecoder
from adapters.transport import sse_data
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    FunctionCall,
    ImagePart,
    Sampling,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
    VideoPart,
)
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import Finish, ReasoningDelta, Start, TextDelta, ToolCallDelta, ToolCallStart, UsageEvent
from tests.adapters.streams import through_the_loop
from tests.fakes.server import fixture_bytes


def events_of(fixture: str, decoder: OpenAIStreamDecoder | None = None) -> list[object]:
    """The decoder's own events (no `Start`: the stream loop makes it, from `decoder.opening`)."""
    decoder = decoder or OpenAIStreamDecoder("openai")
    sse = SSEDecoder()
    out: list[object] = []
    for event in sse.feed(fixture_bytes(fixture)) + sse.flush():
        out.extend(decoder.feed(event.data))
    return out


def test_chat_fixture_decodes() -> None:
    response = from_openai_response(fixture_bytes("openai/chat.json"), "openai")
    assert response.content == "Hello! How can I help you today?"
    assert response.finish_reason == "stop" and response.raw_finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (19, 10)
    assert response.usage.cached_input_tokens == 0 and response.usage.reasoning_tokens == 0
    assert bytes(response.raw) == fixture_bytes("openai/chat.json")


def test_tool_fixture_decodes() -> None:
    response = from_openai_response(fixture_bytes("openai/tool.json"), "openai")
    assert response.content is None
    assert response.tool_calls == [
        ToolCall(id="call_Xb8YzQw3Kp1LmN0aVr6TtC2d", function=FunctionCall("get_weather", '{"city":"Paris"}'))
    ]
    assert response.finish_reason == "tool_calls"


def test_chat_stream_fixture() -> None:
    decoder = OpenAIStreamDecoder("openai")
    events = events_of("openai/chat-stream.sse", decoder)
    assert decoder.opening is not None and decoder.opening.id == "chatcmpl-DxQ7r2mVbY4kTn8sLpWc3aHfJ1eZ0"
    assert not any(isinstance(e, Start) for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello! How can I help you today?"
    assert events[-2:] == [
        UsageEvent(input_tokens=19, output_tokens=10, cached_input_tokens=0, reasoning_tokens=0),
        Finish(reason="stop", raw_reason="stop"),
    ]


def test_tool_stream_fixture() -> None:
    events = events_of("openai/tool-stream.sse")
    assert ToolCallStart(index=0, id="call_Xb8YzQw3Kp1LmN0aVr6TtC2d", name="get_weather") in events
    assert "".join(e.arguments for e in events if isinstance(e, ToolCallDelta)) == '{"city":"Paris"}'
    assert events[-1] == Finish(reason="tool_calls", raw_reason="tool_calls")


def test_worker_stream_with_whole_tool_calls_and_reasoning() -> None:
    events = events_of("openai-compat/ollama-tool-stream.sse")
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert starts and starts[0].name
    assert isinstance(events[-1], Finish)


async def test_a_stream_cut_before_finish_raises() -> None:
    chunk = b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    for ending in (b"", b"data: [DONE]\n\n"):
        with pytest.raises(UpstreamError) as raised:
            await through_the_loop(sse_data(OpenAIStreamDecoder("openai")), chunk, ending)
        assert raised.value.code is Code.CONNECTION


def test_an_error_chunk_in_a_stream_raises_classified() -> None:
    decoder = OpenAIStreamDecoder("openai")
    with pytest.raises(UpstreamError) as raised:
        decoder.feed('{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}')
    assert raised.value.code is Code.SERVER_ERROR


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("openai/error-401.json", 401, Code.AUTHENTICATION),
        ("openai/error-404.json", 404, Code.NOT_FOUND),
        ("openai/error-429.json", 429, Code.RATE_LIMITED),
        ("openai-compat/vllm-error-404.json", 404, Code.NOT_FOUND),
        ("openai-compat/ollama-error-404.json", 404, Code.NOT_FOUND),
    ],
)
def test_error_fixtures_classify(fixture: str, status: int, code: Code) -> None:
    error = classify_openai_error_body(status, fixture_bytes(fixture), "openai", {"retry-after": "1"})
    assert error.code is code and error.upstream_status == status and error.retry_after == 1.0


def test_insufficient_quota_is_not_a_rate_limit() -> None:
    body = b'{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}'
    assert classify_openai_error_body(429, body, "openai", {}).code is Code.QUOTA_EXCEEDED


def test_error_messages_are_scrubbed_of_the_key() -> None:
    body = b'{"error":{"message":"Incorrect API key provided: my-secret-key-123.","type":"x","code":"invalid_api_key"}}'
    error = classify_openai_error_body(401, body, "openai", {}, "my-secret-key-123")
    assert "my-secret-key-123" not in error.message


def test_full_request_translation() -> None:
    request = ChatRequest(
        model="openai/gpt-4o-mini",
        messages=[
            SystemMessage(content="sys"),
            UserMessage(
                content=[
                    TextPart(text="look"),
                    ImagePart(url="https://x/y.png", detail="low"),
                    AudioPart(base64="data:audio/wav;base64,UklGRg=="),
                ]
            ),
            AssistantMessage(content=None, tool_calls=[ToolCall(id="c1", function=FunctionCall("f", "{}"))]),
            ToolMessage(tool_call_id="c1", content="ok"),
        ],
        stream=True,
        sampling=Sampling(max_tokens=5, seed=1, top_k=3),
        extra={"user": "u-1", "stream_options": {"include_obfuscation": False}},
    )
    warnings: list[str] = []
    body = to_openai_body(request, "gpt-4o-mini", Dialect(), warnings)
    assert body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "function": {"name": "f", "arguments": "{}"}, "type": "function"}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
        "max_completion_tokens": 5,
        "seed": 1,
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_obfuscation": False, "include_usage": True},
    }
    assert warnings == ["top_k is not supported by openai; it was not sent"]


def test_video_is_refused_naming_the_vendor() -> None:
    request = ChatRequest(model="m", messages=[UserMessage(content=[VideoPart(url="https://x/v.mp4")])])
    with pytest.raises(GatewayError) as raised:
        to_openai_body(request, "m", Dialect(), [])
    assert raised.value.code is Code.UNSUPPORTED and "openai" in raised.value.message


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("weird", "other"),
        (None, "other"),
    ],
)
def test_finish_reasons(raw: str | None, unified: str) -> None:
    assert map_openai_finish_reason(raw) == unified


def test_body_encodes_to_json() -> None:
    request = ChatRequest(model="m", messages=[UserMessage(content="hi")])
    assert msgspec.json.decode(msgspec.json.encode(to_openai_body(request, "m", Dialect(), []))) == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_thinking_chunks_are_a_dialect_hook_not_openai_s_own() -> None:
    """Mistral's `thinking` chunks are read where the dialect says so (Mistral, and workers,
    which may serve Magistral); OpenAI's decoder keeps only the text chunks."""
    from adapters.openai_compat import worker_dialect

    data = msgspec.json.encode(
        {
            "id": "c",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "content": [
                            {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                            {"type": "text", "text": "4"},
                        ]
                    },
                }
            ],
        }
    ).decode()
    plain = OpenAIStreamDecoder("openai").feed(data)
    assert [type(event) for event in plain] == [TextDelta]
    worker = OpenAIStreamDecoder("pool:gpu", worker_dialect("pool:gpu")).feed(data)
    assert [type(event) for event in worker] == [ReasoningDelta, TextDelta]
