"""Mistral: translation straight from fixtures (pure), then the real SDK against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import msgspec
import pytest

from adapters.base import Opening, Timeouts, UpstreamCall
from adapters.mistral import MistralAdapter
from adapters.mistral.errors import classify_mistral_error
from adapters.mistral.request import MISTRAL, to_mistral_body, to_mistral_tool_call_id
from adapters.openai.response import from_openai_response, map_openai_finish_reason
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.sse import SSEDecoder
from adapters.transport import sse_data
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    JsonObjectFormat,
    JsonSchema,
    JsonSchemaFormat,
    NamedFunction,
    NamedToolChoice,
    ReasoningPart,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    VideoPart,
)
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageEvent,
)
from tests.adapters.streams import through_the_loop
from tests.fakes.mistral import KIT, fake_mistral
from tests.fakes.server import FakeVendor, Reply, ServerThread, fixture_bytes

KEY = "mistral-key-0123456789abcdef"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = Tool(
    function=FunctionDefinition(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


def body_of(warnings: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    messages = fields.pop("messages", [UserMessage(content="Hello")])
    request = ChatRequest(model="mistral/mistral-small-latest", messages=messages, **fields)
    return to_mistral_body(request, "mistral-small-latest", warnings if warnings is not None else [])


def decode_stream(
    raw: bytes, chunk_size: int | None = None, decoder: OpenAIStreamDecoder | None = None
) -> list[StreamEvent]:
    """The decoder's own events (no `Start`: the stream loop makes it, from `decoder.opening`)."""
    decoder = decoder or OpenAIStreamDecoder("mistral", MISTRAL)
    sse = SSEDecoder()
    pieces = (
        [raw] if chunk_size is None else [raw[i : i + chunk_size] for i in range(0, len(raw), chunk_size)]
    )
    events: list[StreamEvent] = []
    for piece in pieces:
        for event in sse.feed(piece):
            events.extend(decoder.feed(event.data))
    for event in sse.flush():
        events.extend(decoder.feed(event.data))
    events.extend(decoder.close())
    return events


def sse(*chunks: dict[str, Any]) -> bytes:
    frames = [b"data: " + msgspec.json.encode(chunk) + b"\n\n" for chunk in chunks]
    return b"".join(frames) + b"data: [DONE]\n\n"


def chunk(
    delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "object": "chat.completion.chunk",
        "created": 1795651260,
        "model": "magistral-medium-latest",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


# --- request translation -------------------------------------------------------------------


def test_conversation_translates_role_by_role() -> None:
    history = [
        SystemMessage(content="You are terse."),
        UserMessage(content="Weather in Paris?"),
        AssistantMessage(
            content=None,
            tool_calls=[ToolCall(id="D681PevKs", function=FunctionCall("get_weather", '{"city": "Paris"}'))],
        ),
        ToolMessage(tool_call_id="D681PevKs", content="18C and sunny", name="get_weather"),
        AssistantMessage(content="18C and sunny."),
        UserMessage(content="Thanks"),
    ]
    assert body_of(messages=history)["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "D681PevKs",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "D681PevKs", "content": "18C and sunny", "name": "get_weather"},
        {"role": "assistant", "content": "18C and sunny."},
        {"role": "user", "content": "Thanks"},
    ]


def test_foreign_tool_call_ids_become_mistral_ids_that_still_pair() -> None:
    openai_id = "call_Xb8YzQw3Kp1LmN0aVr6TtC2d"
    history = [
        UserMessage(content="Weather?"),
        AssistantMessage(tool_calls=[ToolCall(id=openai_id, function=FunctionCall("get_weather", "{}"))]),
        ToolMessage(tool_call_id=openai_id, content="sunny"),
    ]
    messages = body_of(messages=history)["messages"]
    sent = messages[1]["tool_calls"][0]["id"]
    assert sent != openai_id and len(sent) == 9 and sent.isalnum() and sent.isascii()
    assert messages[2]["tool_call_id"] == sent


def test_tool_call_id_mapping_is_stable_and_keeps_valid_ids() -> None:
    assert to_mistral_tool_call_id("D681PevKs") == "D681PevKs"
    first = to_mistral_tool_call_id("toolu_01A09q90qw90lq917835lq9")
    assert first == to_mistral_tool_call_id("toolu_01A09q90qw90lq917835lq9")
    assert first != to_mistral_tool_call_id("toolu_01A09q90qw90lq917835lq8")
    assert to_mistral_tool_call_id("abc") != "abc" and len(to_mistral_tool_call_id("abc")) == 9
    assert to_mistral_tool_call_id("D681PevK_") != "D681PevK_"


def test_images_by_url_and_by_base64() -> None:
    message = UserMessage(
        content=[
            TextPart(text="What is this?"),
            ImagePart(url="https://example.com/cat.png", detail="high"),
            ImagePart(base64=f"data:image/png;base64,{PNG}"),
            ImagePart(base64=PNG),
        ]
    )
    assert body_of(messages=[message])["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]


def test_audio_goes_as_the_bare_base64_payload() -> None:
    message = UserMessage(content=[AudioPart(base64="data:audio/mpeg;base64,SUQzBAAAAAAA")])
    assert body_of(messages=[message])["messages"][0]["content"] == [
        {"type": "input_audio", "input_audio": "SUQzBAAAAAAA"}
    ]


@pytest.mark.parametrize(
    "part", [AudioPart(url="https://example.com/a.mp3"), VideoPart(url="https://example.com/v.mp4")]
)
def test_parts_mistral_cannot_take_are_refused(part: AudioPart | VideoPart) -> None:
    with pytest.raises(GatewayError) as raised:
        body_of(messages=[UserMessage(content=[part])])
    assert raised.value.code == Code.UNSUPPORTED and raised.value.provider == "mistral"
    assert "mistral cannot take" in raised.value.message


def test_tools_pass_in_openai_shape() -> None:
    assert body_of(tools=[WEATHER])["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "any"),
        (
            NamedToolChoice(function=NamedFunction(name="get_weather")),
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: Any, sent: Any) -> None:
    assert body_of(tools=[WEATHER], tool_choice=choice)["tool_choice"] == sent


def test_response_formats() -> None:
    assert body_of(response_format=JsonObjectFormat())["response_format"] == {"type": "json_object"}
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = JsonSchemaFormat(json_schema=JsonSchema(name="place", schema=schema, strict=True))
    assert body_of(response_format=fmt)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema, "strict": True},
    }


@pytest.mark.parametrize(
    ("sampling", "field", "value"),
    [
        (Sampling(max_tokens=64), "max_tokens", 64),
        (Sampling(temperature=0.3), "temperature", 0.3),
        (Sampling(top_p=0.9), "top_p", 0.9),
        (Sampling(top_k=40), "top_k", 40),
        (Sampling(stop=["\n\n"]), "stop", ["\n\n"]),
        (Sampling(seed=7), "random_seed", 7),
        (Sampling(frequency_penalty=0.5), "frequency_penalty", 0.5),
        (Sampling(presence_penalty=0.25), "presence_penalty", 0.25),
    ],
)
def test_each_sampling_parameter_by_mistral_name(sampling: Sampling, field: str, value: Any) -> None:
    warnings: list[str] = []
    body = body_of(warnings, sampling=sampling)
    assert body[field] == value
    assert set(body) == {"model", "messages", field}
    assert warnings == []


def test_a_user_name_is_not_sent_and_says_so() -> None:
    warnings: list[str] = []
    body = body_of(warnings, messages=[UserMessage(content="Hi", name="ana")])
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert warnings == ["a user message name is not supported by mistral; it was not sent"]


def test_extras_go_verbatim_at_the_top_level() -> None:
    extra = {"safe_prompt": True, "prompt_mode": "reasoning", "guardrails": [{"type": "moderation"}]}
    body = body_of(extra=extra)
    assert {name: body[name] for name in extra} == extra


def test_stream_asks_for_no_stream_options() -> None:
    body = body_of(stream=True)
    assert body["stream"] is True
    assert "stream_options" not in body


def test_reasoning_goes_back_as_thinking_chunks() -> None:
    warnings: list[str] = []
    turn = AssistantMessage(
        content="4",
        reasoning=[
            ReasoningPart(text="2 plus 2 is 4.", signature="sig-1"),
            ReasoningPart(redacted="opaque-anthropic-payload"),
        ],
    )
    body = body_of(warnings, messages=[UserMessage(content="2+2?"), turn, UserMessage(content="and 3+3?")])
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {
                "type": "thinking",
                "thinking": [{"type": "text", "text": "2 plus 2 is 4."}],
                "signature": "sig-1",
            },
            {"type": "text", "text": "4"},
        ],
    }
    assert warnings == ["redacted reasoning is not supported by mistral; it was not sent"]


THINKING_CONTENT = [
    {"type": "thinking", "thinking": [{"type": "text", "text": "Add them: 4."}], "signature": "s1"},
    {"type": "text", "text": "4"},
]
THINKING_REPLY = {
    "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "object": "chat.completion",
    "created": 1795651260,
    "model": "magistral-medium-latest",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "tool_calls": None,
                "content": THINKING_CONTENT,
            },
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
}


def test_reasoning_round_trips_through_a_later_turn() -> None:
    response = from_openai_response(msgspec.json.encode(THINKING_REPLY), "mistral", MISTRAL)
    assert response.content == "4"
    assert response.reasoning == [ReasoningPart(text="Add them: 4.", signature="s1")]
    turn = AssistantMessage(content=response.content, reasoning=response.reasoning)
    sent = body_of(messages=[UserMessage(content="2+2?"), turn])["messages"][1]["content"]
    assert sent == THINKING_CONTENT


def test_body_encodes_to_json() -> None:
    body = body_of(tools=[WEATHER], tool_choice="required", sampling=Sampling(seed=1), stream=True)
    assert msgspec.json.decode(msgspec.json.encode(body)) == body


# --- response decoding ---------------------------------------------------------------------


def test_chat_fixture_decodes() -> None:
    response = from_openai_response(fixture_bytes("mistral/chat.json"), "mistral", MISTRAL)
    assert response.id == "cf79f7daaee244b1a0ae5c7b1444424a" and response.model == "mistral-small-latest"
    assert response.content == "Hello! How can I help you today?"
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "stop")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (8, 10)
    assert response.usage.cached_input_tokens is msgspec.UNSET
    assert bytes(response.raw) == fixture_bytes("mistral/chat.json")


def test_tool_fixtures_decode() -> None:
    response = from_openai_response(fixture_bytes("mistral/tool.json"), "mistral", MISTRAL)
    assert response.tool_calls == [
        ToolCall(id="D681PevKs", function=FunctionCall("get_weather", '{"city": "Paris"}'))
    ]
    assert response.finish_reason == "tool_calls"
    multi = from_openai_response(fixture_bytes("mistral/tools-multi.json"), "mistral", MISTRAL)
    assert multi.tool_calls == [
        ToolCall(id="Qx7LmP2rT", function=FunctionCall("get_weather", '{"city": "Paris"}')),
        ToolCall(id="b4NcW9eYz", function=FunctionCall("get_time", '{"timezone": "Europe/Paris"}')),
    ]


def test_cached_prompt_tokens_are_read() -> None:
    reply = {
        **THINKING_REPLY,
        "usage": {
            "prompt_tokens": 900,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 832},
        },
    }
    usage = from_openai_response(msgspec.json.encode(reply), "mistral", MISTRAL).usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (900, 832, 5)


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("model_length", "length"),
        ("tool_calls", "tool_calls"),
        ("error", "error"),
    ],
)
def test_finish_reasons(raw: str, unified: str) -> None:
    assert map_openai_finish_reason(raw) == unified


# --- stream decoding -----------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_chat_stream_fixture(chunk_size: int | None) -> None:
    decoder = OpenAIStreamDecoder("mistral", MISTRAL)
    events = decode_stream(fixture_bytes("mistral/chat-stream.sse"), chunk_size, decoder)
    assert decoder.opening == Opening(id="cf79f7daaee244b1a0ae5c7b1444424a", model="mistral-small-latest")
    assert not any(isinstance(e, Start) for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello! How can I help you today?"
    assert events[-2:] == [
        UsageEvent(input_tokens=8, output_tokens=10),
        Finish(reason="stop", raw_reason="stop"),
    ]


def test_tool_stream_fixture() -> None:
    events = decode_stream(fixture_bytes("mistral/tool-stream.sse"))
    assert events == [
        ToolCallStart(index=0, id="D681PevKs", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"city": "Paris"}'),
        UsageEvent(input_tokens=92, output_tokens=24),
        Finish(reason="tool_calls", raw_reason="tool_calls"),
    ]


def test_multi_tool_stream_fixture() -> None:
    events = decode_stream(fixture_bytes("mistral/tools-multi-stream.sse"))
    assert events[:4] == [
        ToolCallStart(index=0, id="Qx7LmP2rT", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"city": "Paris"}'),
        ToolCallStart(index=1, id="b4NcW9eYz", name="get_time"),
        ToolCallDelta(index=1, arguments='{"timezone": "Europe/Paris"}'),
    ]


def test_whole_tool_calls_are_kept_apart_even_when_mistral_repeats_an_index() -> None:
    calls = [
        {
            "id": "Qx7LmP2rT",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            "index": 0,
        },
        {"id": "b4NcW9eYz", "function": {"name": "get_time", "arguments": '{"timezone": "UTC"}'}, "index": 0},
    ]
    events = decode_stream(
        sse(chunk({"role": "assistant", "content": ""}), chunk({"tool_calls": calls}, "tool_calls", {}))
    )
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.id) for s in starts] == [(0, "Qx7LmP2rT"), (1, "b4NcW9eYz")]
    assert [e.arguments for e in events if isinstance(e, ToolCallDelta)] == [
        '{"city": "Paris"}',
        '{"timezone": "UTC"}',
    ]


def test_thinking_chunks_stream_as_reasoning() -> None:
    raw = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Add "}]}]}),
        chunk(
            {
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "them."}], "signature": "s1"}
                ]
            }
        ),
        chunk({"content": "4"}, "stop", {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}),
    )
    assert decode_stream(raw) == [
        ReasoningDelta(index=0, text="Add "),
        ReasoningDelta(index=0, text="them.", signature="s1"),
        TextDelta(index=0, text="4"),
        UsageEvent(input_tokens=12, output_tokens=20),
        Finish(reason="stop", raw_reason="stop"),
    ]


def test_an_error_inside_a_stream_is_classified_after_the_text() -> None:
    assert KIT.mid_stream_error is not None and KIT.mid_stream_error.events is not None
    decoder = OpenAIStreamDecoder("mistral", MISTRAL)
    frames = [frame[len(b"data: ") :].strip().decode() for frame in KIT.mid_stream_error.events]
    assert [type(e) for e in decoder.feed(frames[0])] == [TextDelta]
    with pytest.raises(UpstreamError) as raised:
        decoder.feed(frames[1])
    assert raised.value.code == Code.SERVER_ERROR and raised.value.provider == "mistral"
    rate_limited = b'{"object":"error","message":"Rate limit exceeded","type":"rate_limited","code":"1300"}'
    with pytest.raises(UpstreamError) as limited:
        decoder.feed(rate_limited.decode())
    assert limited.value.code == Code.RATE_LIMITED


async def test_a_stream_cut_before_finish_raises_connection() -> None:
    raw = fixture_bytes("mistral/chat-stream.sse").split(b"\n\n")[:3]
    assert not any(isinstance(event, Finish) for event in decode_stream(b"\n\n".join(raw) + b"\n\n"))
    with pytest.raises(UpstreamError) as raised:
        await through_the_loop(sse_data(OpenAIStreamDecoder("mistral", MISTRAL)), b"\n\n".join(raw) + b"\n\n")
    assert raised.value.code == Code.CONNECTION


# --- error classification ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("mistral/error-401.json", 401, Code.AUTHENTICATION),
        ("mistral/error-429.json", 429, Code.RATE_LIMITED),
        ("mistral/error-400-invalid-model.json", 400, Code.NOT_FOUND),
    ],
)
def test_error_fixtures_classify(fixture: str, status: int, code: Code) -> None:
    error = classify_mistral_error(status, fixture_bytes(fixture), "mistral", {"retry-after": "3"})
    assert (error.code, error.upstream_status, error.retry_after, error.provider) == (
        code,
        status,
        3.0,
        "mistral",
    )


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (401, b'{"message":"Unauthorized","request_id":"9f2c"}', Code.AUTHENTICATION, "Unauthorized"),
        (
            429,
            b'{"message":"Requests rate limit exceeded"}',
            Code.RATE_LIMITED,
            "Requests rate limit exceeded",
        ),
        (
            422,
            b'{"detail":[{"loc":["body","temperature"],"msg":"Input should be less than 1.5","type":"less_than"}]}',
            Code.INVALID_REQUEST,
            "body.temperature: Input should be less than 1.5",
        ),
        (
            422,
            b'{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","messages",0,"user","name"],'
            b'"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_error","param":null,"code":null}',
            Code.INVALID_REQUEST,
            "body.messages.0.user.name: Extra inputs are not permitted",
        ),
        (
            400,
            b'{"object":"error","message":"Prompt contains 40960 tokens and 0 draft tokens, too large for model with '
            b'32768 maximum context length","type":"invalid_request_invalid_args","param":null,"code":"3051"}',
            Code.CONTEXT_LENGTH,
            "Prompt contains 40960 tokens",
        ),
        (
            400,
            b'{"object":"error","message":"Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9.",'
            b'"type":"invalid_function_call","param":null,"code":"3280"}',
            Code.INVALID_REQUEST,
            "Tool call id was call_1",
        ),
        (
            429,
            b'{"object":"error","message":"Service tier capacity exceeded for this model.",'
            b'"type":"service_tier_capacity_exceeded","param":null,"code":"3505"}',
            Code.OVERLOADED,
            "capacity exceeded",
        ),
        (
            500,
            b'{"object":"error","message":"Internal server error","type":"internal_server_error"}',
            Code.SERVER_ERROR,
            "Internal",
        ),
        (502, b"<html><body>Bad gateway</body></html>", Code.SERVER_ERROR, "Bad gateway"),
        (503, b'{"message":"Service unavailable"}', Code.OVERLOADED, "Service unavailable"),
        (504, b'{"message":"The upstream server is timing out"}', Code.TIMEOUT, "timing out"),
        (403, b'{"message":"Forbidden"}', Code.PERMISSION, "Forbidden"),
        (
            200,
            b'{"object":"error","message":"Rate limit exceeded","type":"rate_limited","raw_status_code":429}',
            Code.RATE_LIMITED,
            "Rate limit",
        ),
    ],
)
def test_documented_error_shapes_classify(status: int, body: bytes, code: Code, message: str) -> None:
    error = classify_mistral_error(status, body, "mistral", {})
    assert error.code == code
    assert message in error.message and error.message.startswith("mistral: ")


def test_error_messages_are_scrubbed_of_the_key() -> None:
    body = b'{"object":"error","message":"Key ' + KEY.encode() + b' is not valid","type":"unauthorized"}'
    error = classify_mistral_error(401, body, "mistral", {}, KEY)
    assert KEY not in error.message and "[redacted]" in error.message


# --- the real SDK against the fake ---------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeVendor, str]]:
    fake = fake_mistral()
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


@pytest.fixture
async def vendor(served: tuple[FakeVendor, str]) -> AsyncIterator[tuple[FakeVendor, str, MistralAdapter]]:
    fake, url = served
    fake.clear()
    adapter = MistralAdapter()
    yield fake, url, adapter
    await adapter.aclose()


def call_for(url: str, key: str = KEY, timeouts: Timeouts | None = None, **fields: Any) -> UpstreamCall:
    messages = fields.pop("messages", [UserMessage(content="Hello")])
    request = ChatRequest(model="mistral/mistral-small-latest", messages=messages, **fields)
    return UpstreamCall(
        request=request,
        model="mistral-small-latest",
        api_key=key,
        base_url=url,
        timeouts=timeouts or Timeouts(),
    )


async def test_complete_sends_what_mistral_expects(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    fake, url, adapter = vendor
    sampling = Sampling(max_tokens=50, seed=3, top_k=20)
    response = await adapter.complete(
        call_for(url + "/", sampling=sampling, messages=[UserMessage(content="Hi", name="x")])
    )
    sent = fake.last
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"].startswith("mistral-client-python/")
    assert sent.json() == {
        "model": "mistral-small-latest",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 50,
        "top_k": 20,
        "random_seed": 3,
    }
    assert response.content == "Hello! How can I help you today?"
    assert response.warnings == ["a user message name is not supported by mistral; it was not sent"]


async def test_stream_sends_what_mistral_expects(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    fake, url, adapter = vendor
    events = [
        event
        async for event in adapter.stream(
            call_for(
                url,
                stream=True,
                tools=[WEATHER],
                tool_choice="required",
                messages=[UserMessage(content="Hi", name="x")],
            )
        )
    ]
    sent = fake.last
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.json()
    assert body["stream"] is True and "stream_options" not in body and body["tool_choice"] == "any"
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert [type(e) for e in events] == [Start, ToolCallStart, ToolCallDelta, UsageEvent, Finish]
    assert isinstance(events[0], Start)
    assert events[0].warnings == ["a user message name is not supported by mistral; it was not sent"]


async def test_only_the_callers_key_arrives(
    vendor: tuple[FakeVendor, str, MistralAdapter], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    fake, url, adapter = vendor
    token = tmp_path / "token"
    token.write_text("service-account-token")
    monkeypatch.setenv("MISTRAL_API_KEY", "environment-key-should-not-travel")
    monkeypatch.setenv("MISTRAL_SA_TOKEN_PATH", str(token))
    keys = [f"caller-key-{n:02d}-abcdef" for n in range(8)]
    await asyncio.gather(
        *(adapter.complete(call_for(url, key=key, messages=[UserMessage(content=key)])) for key in keys)
    )
    seen = {
        request.json()["messages"][0]["content"]: request.headers["authorization"]
        for request in fake.received
    }
    assert seen == {key: f"Bearer {key}" for key in keys}


async def test_wrong_content_type_is_a_server_error(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    fake, url, adapter = vendor
    fake.enqueue(Reply(headers={"Content-Type": "text/plain"}, body=b"hello"))
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(call_for(url))
    assert raised.value.code == Code.SERVER_ERROR and "text/plain" in raised.value.message
    fake.enqueue(Reply.fixture("mistral/chat.json"))
    with pytest.raises(UpstreamError) as streamed:
        await anext(aiter(adapter.stream(call_for(url, stream=True))))
    assert streamed.value.code == Code.SERVER_ERROR


async def test_timeouts(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    fake, url, adapter = vendor
    short = Timeouts(connect=1.0, total=0.3)
    fake.enqueue(Reply.fixture("mistral/chat.json", delay=1.0))
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(call_for(url, timeouts=short))
    assert raised.value.code == Code.TIMEOUT
    fake.enqueue(Reply.fixture("mistral/chat-stream.sse", stall_after=2, stall=1.0))
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as stalled:
        async for event in adapter.stream(call_for(url, stream=True, timeouts=short)):
            seen.append(event)
    assert stalled.value.code == Code.TIMEOUT and any(isinstance(e, TextDelta) for e in seen)


async def test_a_cut_stream_is_a_connection_error(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    fake, url, adapter = vendor
    fake.enqueue(Reply.fixture("mistral/chat-stream.sse", cut_after=600))
    with pytest.raises(UpstreamError) as raised:
        [event async for event in adapter.stream(call_for(url, stream=True))]
    assert raised.value.code == Code.CONNECTION


async def test_a_deprecated_model_still_streams_and_warns_when_not_streamed(
    vendor: tuple[FakeVendor, str, MistralAdapter],
) -> None:
    fake, url, adapter = vendor
    deprecated = {"x-model-deprecation-timestamp": "2027-03-31T00:00:00Z"}
    fake.enqueue(
        Reply.fixture("mistral/chat-stream.sse", headers={"Content-Type": "text/event-stream", **deprecated})
    )
    events = [event async for event in adapter.stream(call_for(url, stream=True))]
    assert isinstance(events[0], Start) and isinstance(events[-1], Finish)
    assert events[0].warnings == [
        "mistral deprecated the model mistral-small-latest; it will be removed on 2027-03-31T00:00:00Z"
    ]
    fake.enqueue(
        Reply.fixture("mistral/chat.json", headers={"Content-Type": "application/json", **deprecated})
    )
    response = await adapter.complete(call_for(url))
    assert response.warnings == [
        "mistral deprecated the model mistral-small-latest; it will be removed on 2027-03-31T00:00:00Z"
    ]


async def test_an_unknown_model_is_not_found(vendor: tuple[FakeVendor, str, MistralAdapter]) -> None:
    _, url, adapter = vendor
    call = call_for(url)
    unknown = UpstreamCall(request=call.request, model="mistral-does-not-exist", api_key=KEY, base_url=url)
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(unknown)
    assert raised.value.code == Code.NOT_FOUND and raised.value.upstream_status == 400
    assert "Invalid model" in raised.value.message


async def test_connect_and_read_timeouts_come_from_the_call() -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.extensions["timeout"])
        return httpx2.Response(
            200, headers={"Content-Type": "application/json"}, content=fixture_bytes("mistral/chat.json")
        )

    adapter = MistralAdapter(http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    try:
        await adapter.complete(call_for("http://mistral.test", timeouts=Timeouts(connect=2.0, total=30.0)))
    finally:
        await adapter.aclose()
    assert seen == [{"connect": 2.0, "read": 30.0, "write": 30.0, "pool": 30.0}]
