"""Cohere translation straight from fixtures, and the real SDK against the fake Cohere."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import msgspec
import pytest

from adapters.base import Opening, Timeouts, UpstreamCall
from adapters.cohere import CohereAdapter
from adapters.cohere.errors import classify_cohere_error
from adapters.cohere.request import to_cohere_body, to_cohere_message
from adapters.cohere.response import from_cohere_response, map_cohere_finish_reason
from adapters.cohere.stream import CohereStreamDecoder
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
    TextFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolMessage,
    UserMessage,
    VideoPart,
)
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import Finish, ReasoningDelta, Start, TextDelta, ToolCallDelta, ToolCallStart, UsageEvent
from tests.adapters.streams import through_the_loop
from tests.fakes.cohere import MID_STREAM_ERROR, fake_cohere
from tests.fakes.server import FakeVendor, Reply, ServerThread, fixture_bytes

TEXT = "Hello! How can I help you today?"
PLAN = "I will look up the current weather in Paris."
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
THINKING_REPLY = (
    b'{"id":"r1","message":{"role":"assistant","content":[{"type":"thinking","thinking":"2 and 2 make 4."},'
    b'{"type":"text","text":"4"}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":8,'
    b'"output_tokens":5},"tokens":{"input_tokens":1394,"output_tokens":54},"cached_tokens":1360}}'
)
WEATHER = Tool(
    function=FunctionDefinition(name="get_weather", description="Weather", parameters={"type": "object"})
)
TIME = Tool(function=FunctionDefinition(name="get_time"))


def feed_all(decoder: CohereStreamDecoder, raw: bytes) -> list[object]:
    sse = SSEDecoder()
    out: list[object] = []
    for event in sse.feed(raw) + sse.flush():
        out.extend(decoder.feed(event.data))
    return out


def events_of(fixture: str) -> list[object]:
    return feed_all(CohereStreamDecoder("command-a"), fixture_bytes(fixture))


def joined(events: Sequence[object], kind: type[TextDelta] | type[ReasoningDelta]) -> str:
    return "".join(event.text for event in events if isinstance(event, kind))


def arguments(events: Sequence[object], index: int) -> Any:
    text = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == index)
    return msgspec.json.decode(text)


# responses


def test_chat_fixture_decodes() -> None:
    response = from_cohere_response(fixture_bytes("cohere/chat.json"), "command-a")
    assert (response.id, response.model, response.content) == (
        "5a50480a-cf52-46f0-af01-53d18539bd31",
        "command-a",
        TEXT,
    )
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "COMPLETE")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (496, 11)
    assert response.usage.cached_input_tokens is msgspec.UNSET and response.reasoning is msgspec.UNSET
    assert bytes(response.raw) == fixture_bytes("cohere/chat.json")


def test_tool_fixture_decodes_with_the_plan_as_reasoning() -> None:
    response = from_cohere_response(fixture_bytes("cohere/tool.json"), "command-a")
    assert response.content is None
    assert response.tool_calls == [
        ToolCall("get_weather_k3x9w2m7q1zv", FunctionCall("get_weather", '{"city":"Paris"}'))
    ]
    assert response.reasoning == [ReasoningPart(text=PLAN)]
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "TOOL_CALL")


def test_multi_tool_fixture_decodes() -> None:
    response = from_cohere_response(fixture_bytes("cohere/tools-multi.json"), "command-a")
    assert response.tool_calls is not msgspec.UNSET
    assert [(c.function.name, msgspec.json.decode(c.function.arguments)) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]


def test_thinking_and_cached_tokens_decode() -> None:
    response = from_cohere_response(THINKING_REPLY, "command-a-reasoning")
    assert response.content == "4" and response.reasoning == [ReasoningPart(text="2 and 2 make 4.")]
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.cached_input_tokens,
    ) == (1394, 54, 1360)


def test_usage_falls_back_to_billed_units_without_tokens() -> None:
    raw = b'{"id":"x","message":{"content":[]},"finish_reason":"MAX_TOKENS","usage":{"billed_units":{"input_tokens":3,"output_tokens":9}}}'
    response = from_cohere_response(raw, "m")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.finish_reason) == (
        3,
        9,
        "length",
    )


def test_a_reply_that_is_not_json_is_a_server_error() -> None:
    with pytest.raises(UpstreamError) as raised:
        from_cohere_response(b"<html>", "m")
    assert raised.value.code is Code.SERVER_ERROR and raised.value.provider == "cohere"


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("ERROR", "error"),
        ("TIMEOUT", "error"),
        ("USER_CANCEL", "other"),
        (None, "other"),
    ],
)
def test_finish_reasons(raw: str | None, unified: str) -> None:
    assert map_cohere_finish_reason(raw) == unified


# streams


def test_chat_stream_fixture() -> None:
    decoder = CohereStreamDecoder("command-a")
    events = feed_all(decoder, fixture_bytes("cohere/chat-stream.sse"))
    assert decoder.opening == Opening(id="5a50480a-cf52-46f0-af01-53d18539bd31", model="command-a")
    assert not any(isinstance(e, Start) for e in events)
    assert joined(events, TextDelta) == TEXT
    assert events[-2:] == [
        UsageEvent(input_tokens=496, output_tokens=11),
        Finish(reason="stop", raw_reason="COMPLETE"),
    ]


def test_tool_stream_fixture() -> None:
    events = events_of("cohere/tool-stream.sse")
    assert joined(events, ReasoningDelta) == PLAN and not joined(events, TextDelta)
    assert [e for e in events if isinstance(e, ToolCallStart)] == [
        ToolCallStart(index=0, id="get_weather_k3x9w2m7q1zv", name="get_weather")
    ]
    assert arguments(events, 0) == {"city": "Paris"}
    assert events[-2:] == [
        UsageEvent(input_tokens=913, output_tokens=83),
        Finish(reason="tool_calls", raw_reason="TOOL_CALL"),
    ]


def test_multi_tool_stream_fixture() -> None:
    events = events_of("cohere/tools-multi-stream.sse")
    starts = [(e.index, e.name) for e in events if isinstance(e, ToolCallStart)]
    assert starts == [(0, "get_weather"), (1, "get_time")]
    assert (arguments(events, 0), arguments(events, 1)) == ({"city": "Paris"}, {"timezone": "Europe/Paris"})


def test_thinking_stream_becomes_reasoning_deltas_and_cached_usage() -> None:
    frames = [
        '{"id":"t1","type":"message-start","delta":{"message":{"role":"assistant","content":[]}}}',
        '{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"thinking","thinking":""}}}}',
        '{"type":"content-delta","index":0,"delta":{"message":{"content":{"thinking":"Two and"}}}}',
        '{"type":"content-delta","index":0,"delta":{"message":{"content":{"thinking":" two."}}}}',
        '{"type":"content-end","index":0}',
        '{"type":"content-start","index":1,"delta":{"message":{"content":{"type":"text","text":""}}}}',
        '{"type":"content-delta","index":1,"delta":{"message":{"content":{"text":"4"}}}}',
        '{"type":"citation-start","index":0,"delta":{"message":{"citations":{}}}}',
        '{"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"tokens":{"input_tokens":1394,'
        '"output_tokens":54},"cached_tokens":1360}}}',
    ]
    raw = "".join(f"data: {frame}\n\n" for frame in frames).encode()
    events = feed_all(CohereStreamDecoder("m"), raw)
    assert joined(events, ReasoningDelta) == "Two and two." and joined(events, TextDelta) == "4"
    assert events[-2] == UsageEvent(input_tokens=1394, output_tokens=54, cached_input_tokens=1360)


def test_an_error_at_message_end_raises_after_the_text() -> None:
    decoder = CohereStreamDecoder("m")
    seen: list[object] = []
    with pytest.raises(UpstreamError) as raised:
        for frame in MID_STREAM_ERROR.events or []:
            seen.extend(feed_all(decoder, frame))
    assert joined(seen, TextDelta) == "Hel"
    assert raised.value.code is Code.SERVER_ERROR and "internal server error" in raised.value.message


def test_an_error_body_in_place_of_an_event_raises_scrubbed() -> None:
    decoder = CohereStreamDecoder("m", "secret-key-123")
    with pytest.raises(UpstreamError) as raised:
        decoder.feed('{"message":"bad token secret-key-123"}')
    assert raised.value.code is Code.SERVER_ERROR and "secret-key-123" not in raised.value.message


async def test_a_stream_cut_before_message_end_raises() -> None:
    decoder = sse_data(CohereStreamDecoder("m"))
    with pytest.raises(UpstreamError) as raised:
        await through_the_loop(decoder, b'data: {"id":"x","type":"message-start"}\n\n')
    assert raised.value.code is Code.CONNECTION


def test_tool_calls_are_numbered_in_start_order_whatever_cohere_indexes() -> None:
    decoder = CohereStreamDecoder("m")
    events = decoder.feed(
        '{"type":"tool-call-start","index":3,"delta":{"message":{"tool_calls":'
        '{"id":"a","function":{"name":"f","arguments":"{}"}}}}}'
    )
    events += decoder.feed(
        '{"type":"tool-call-start","index":5,"delta":{"message":{"tool_calls":{"id":"b",'
        '"function":{"name":"g","arguments":""}}}}}'
    )
    events += decoder.feed(
        '{"type":"tool-call-delta","index":5,"delta":{"message":{"tool_calls":'
        '{"function":{"arguments":"{}"}}}}}'
    )
    assert events == [
        ToolCallStart(0, "a", "f"),
        ToolCallDelta(0, "{}"),
        ToolCallStart(1, "b", "g"),
        ToolCallDelta(1, "{}"),
    ]


# errors


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("cohere/error-401.json", 401, Code.AUTHENTICATION),
        ("cohere/error-404.json", 404, Code.NOT_FOUND),
        ("cohere/error-429.json", 429, Code.RATE_LIMITED),
    ],
)
def test_error_fixtures_classify(fixture: str, status: int, code: Code) -> None:
    error = classify_cohere_error(status, fixture_bytes(fixture), {"retry-after": "2"})
    assert (error.code, error.upstream_status, error.retry_after, error.provider) == (
        code,
        status,
        2.0,
        "cohere",
    )
    assert error.message.startswith("cohere: ")


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "invalid request: unknown field", Code.INVALID_REQUEST),
        (400, "too many tokens: size limit exceeded by 11326 tokens", Code.CONTEXT_LENGTH),
        (
            422,
            "too many tokens: total number of tokens in the prompt cannot exceed 4081",
            Code.CONTEXT_LENGTH,
        ),
        (404, "too many tokens", Code.NOT_FOUND),
        (402, "payment required", Code.QUOTA_EXCEEDED),
        (403, "forbidden", Code.PERMISSION),
        (422, "unprocessable", Code.INVALID_REQUEST),
        (498, "invalid token", Code.AUTHENTICATION),
        (499, "request cancelled", Code.CONNECTION),
        (500, "internal", Code.SERVER_ERROR),
        (501, "not implemented", Code.INVALID_REQUEST),
        (503, "unavailable", Code.OVERLOADED),
        (504, "timeout", Code.TIMEOUT),
    ],
)
def test_statuses_classify(status: int, message: str, code: Code) -> None:
    assert classify_cohere_error(status, msgspec.json.encode({"message": message}), {}).code is code


def test_a_non_json_error_body_and_the_key_are_handled() -> None:
    error = classify_cohere_error(
        502, b"<html>bad gateway for key my-secret-key-123</html>", {}, "my-secret-key-123"
    )
    assert (
        error.code is Code.SERVER_ERROR
        and "my-secret-key-123" not in error.message
        and "bad gateway" in error.message
    )


# requests


def request_of(**fields: Any) -> ChatRequest:
    return ChatRequest(
        model="cohere/command-a", messages=fields.pop("messages", [UserMessage(content="hi")]), **fields
    )


def test_full_request_translation() -> None:
    request = request_of(
        messages=[
            SystemMessage(content="Be brief."),
            UserMessage(
                content=[
                    TextPart(text="What are these?"),
                    ImagePart(url="https://x/cat.png", detail="low"),
                    ImagePart(base64=PNG),
                ]
            ),
            AssistantMessage(
                content=None,
                reasoning=[ReasoningPart(text=PLAN)],
                tool_calls=[ToolCall("c1", FunctionCall("get_weather", '{"city":"Paris"}'))],
            ),
            ToolMessage(tool_call_id="c1", content=[TextPart(text="18C")]),
            AssistantMessage(content="It is 18C."),
        ],
        sampling=Sampling(
            max_tokens=5,
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stop=["END"],
            seed=7,
            frequency_penalty=0.1,
            presence_penalty=0.3,
        ),
        tools=[WEATHER],
        extra={
            "safety_mode": "STRICT",
            "model": "ignored",
            "thinking": {"type": "enabled", "token_budget": 512},
        },
    )
    warnings: list[str] = []
    body = to_cohere_body(request, "command-a", warnings)
    assert body == {
        "model": "command-a",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What are these?"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {
                "role": "assistant",
                "tool_plan": PLAN,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "18C"}]},
            {"role": "assistant", "content": "It is 18C."},
        ],
        "max_tokens": 5,
        "temperature": 0.2,
        "p": 0.9,
        "k": 40,
        "stop_sequences": ["END"],
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "stream": False,
        "safety_mode": "STRICT",
        "thinking": {"type": "enabled", "token_budget": 512},
    }
    assert warnings == []
    assert msgspec.json.decode(msgspec.json.encode(body)) == body


@pytest.mark.parametrize(
    ("choice", "sent", "offered"),
    [
        ("auto", None, ["get_weather", "get_time"]),
        ("none", "NONE", ["get_weather", "get_time"]),
        ("required", "REQUIRED", ["get_weather", "get_time"]),
        (NamedToolChoice(function=NamedFunction("get_time")), "REQUIRED", ["get_time"]),
    ],
)
def test_tool_choice(choice: ToolChoice, sent: str | None, offered: list[str]) -> None:
    warnings: list[str] = []
    body = to_cohere_body(request_of(tools=[WEATHER, TIME], tool_choice=choice), "m", warnings)
    assert body.get("tool_choice", None) == sent
    assert [tool["function"]["name"] for tool in body["tools"]] == offered
    assert bool(warnings) is isinstance(choice, NamedToolChoice)
    assert all("REQUIRED" in warning and "get_time" in warning for warning in warnings)


def test_a_named_tool_that_is_not_offered_is_refused() -> None:
    with pytest.raises(GatewayError) as raised:
        to_cohere_body(
            request_of(tools=[WEATHER], tool_choice=NamedToolChoice(NamedFunction("nope"))), "m", []
        )
    assert raised.value.code is Code.INVALID_REQUEST


@pytest.mark.parametrize(
    ("response_format", "sent"),
    [
        (TextFormat(), {"type": "text"}),
        (JsonObjectFormat(), {"type": "json_object"}),
        (
            JsonSchemaFormat(JsonSchema(name="place", schema={"type": "object", "required": ["city"]})),
            {"type": "json_object", "json_schema": {"type": "object", "required": ["city"]}},
        ),
    ],
)
def test_response_format(response_format: Any, sent: dict[str, Any]) -> None:
    assert to_cohere_body(request_of(response_format=response_format), "m", [])["response_format"] == sent


def test_strict_tools_and_the_mixed_strict_warning() -> None:
    strict = Tool(function=FunctionDefinition(name="s", strict=True))
    warnings: list[str] = []
    body = to_cohere_body(request_of(tools=[strict, TIME]), "m", warnings)
    assert body["strict_tools"] is True and "strict" not in body["tools"][0]["function"]
    assert warnings == ["cohere applies strict schemas to all tools or none; all tools were sent strict"]
    assert "strict_tools" not in to_cohere_body(request_of(tools=[TIME]), "m", [])


def test_reasoning_round_trips_through_history() -> None:
    response = from_cohere_response(THINKING_REPLY, "m")
    message = AssistantMessage(content=response.content, reasoning=response.reasoning)
    assert to_cohere_message(message, []) == {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "2 and 2 make 4."}, {"type": "text", "text": "4"}],
    }
    tool_turn = from_cohere_response(fixture_bytes("cohere/tool.json"), "m")
    back = to_cohere_message(
        AssistantMessage(
            content=tool_turn.content, tool_calls=tool_turn.tool_calls, reasoning=tool_turn.reasoning
        ),
        [],
    )
    assert back["tool_plan"] == PLAN and "content" not in back
    assert back["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}


def test_what_cohere_cannot_keep_is_warned() -> None:
    warnings: list[str] = []
    to_cohere_body(
        request_of(
            messages=[
                UserMessage(content="hi", name="ann"),
                AssistantMessage(
                    content="ok",
                    reasoning=[ReasoningPart(text="t", signature="sig"), ReasoningPart(redacted="x")],
                ),
            ]
        ),
        "m",
        warnings,
    )
    assert warnings == [
        "message names are not supported by cohere; they were not sent",
        "reasoning signatures are not supported by cohere; they were not sent",
        "redacted reasoning is not supported by cohere; it was not sent",
    ]


@pytest.mark.parametrize(
    "message",
    [
        UserMessage(content=[AudioPart(base64="data:audio/wav;base64,UklGRg==")]),
        UserMessage(content=[VideoPart(url="https://x/v.mp4")]),
        SystemMessage(content=[ImagePart(url="https://x/cat.png")]),
        ToolMessage(tool_call_id="c1", content=[ImagePart(url="https://x/cat.png")]),
    ],
)
def test_parts_cohere_cannot_take_are_refused(message: Any) -> None:
    with pytest.raises(GatewayError) as raised:
        to_cohere_body(request_of(messages=[message]), "m", [])
    assert raised.value.code is Code.UNSUPPORTED and raised.value.message.startswith("cohere cannot take")


# the real SDK against the fake


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeVendor, str]]:
    fake = fake_cohere()
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


@pytest.fixture
def fake(served: tuple[FakeVendor, str]) -> FakeVendor:
    served[0].clear()
    return served[0]


def call_of(url: str | None, key: str = "co-key-1", **fields: Any) -> UpstreamCall:
    timeouts = fields.pop("timeouts", Timeouts())
    return UpstreamCall(
        request=request_of(**fields), model="command-a", api_key=key, base_url=url, timeouts=timeouts
    )


async def test_complete_sends_the_body_and_only_the_callers_key(
    fake: FakeVendor, served: tuple[FakeVendor, str]
) -> None:
    adapter = CohereAdapter()
    try:
        named = NamedToolChoice(NamedFunction("get_weather"))
        response = await adapter.complete(
            call_of(served[1], sampling=Sampling(top_k=3), tools=[WEATHER], tool_choice=named)
        )
        await adapter.complete(call_of(served[1], key="co-key-2"))
    finally:
        await adapter.aclose()
    first, second = fake.received
    assert (first.method, first.path) == ("POST", "/v2/chat")
    assert (
        first.headers["authorization"] == "Bearer co-key-1"
        and second.headers["authorization"] == "Bearer co-key-2"
    )
    assert (
        first.headers["content-type"] == "application/json" and first.headers["x-fern-sdk-name"] == "cohere"
    )
    assert first.json() == {
        "model": "command-a",
        "messages": [{"role": "user", "content": "hi"}],
        "k": 3,
        "tool_choice": "REQUIRED",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "stream": False,
    }
    assert response.tool_calls is not msgspec.UNSET and response.tool_calls[0].function.name == "get_weather"
    assert len(response.warnings) == 1


async def test_stream_sends_stream_true_and_decodes(fake: FakeVendor, served: tuple[FakeVendor, str]) -> None:
    adapter = CohereAdapter()
    try:
        events = [event async for event in adapter.stream(call_of(served[1], stream=True))]
    finally:
        await adapter.aclose()
    assert fake.last.json()["stream"] is True and fake.last.headers["accept"] == "text/event-stream"
    assert joined(events, TextDelta) == TEXT and isinstance(events[-1], Finish)


async def test_a_200_stream_that_is_not_an_event_stream_fails(
    fake: FakeVendor, served: tuple[FakeVendor, str]
) -> None:
    fake.enqueue(Reply.fixture("cohere/chat.json"))
    adapter = CohereAdapter()
    try:
        with pytest.raises(UpstreamError) as raised:
            _ = [event async for event in adapter.stream(call_of(served[1], stream=True))]
    finally:
        await adapter.aclose()
    assert raised.value.code is Code.SERVER_ERROR and "application/json" in raised.value.message


async def test_a_slow_answer_is_a_timeout(fake: FakeVendor, served: tuple[FakeVendor, str]) -> None:
    fake.enqueue(Reply.fixture("cohere/chat.json", delay=1.0))
    adapter = CohereAdapter()
    try:
        with pytest.raises(UpstreamError) as raised:
            await adapter.complete(call_of(served[1], timeouts=Timeouts(connect=1.0, total=0.2)))
    finally:
        await adapter.aclose()
    assert raised.value.code is Code.TIMEOUT


async def test_the_placeholder_never_travels_and_the_default_base_url_is_cohere() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=fixture_bytes("cohere/chat.json"))

    adapter = CohereAdapter(http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    try:
        await adapter.complete(call_of(None))
    finally:
        await adapter.aclose()
    assert str(seen[0].url) == "https://api.cohere.com/v2/chat"
    assert seen[0].headers.get_list("authorization") == ["Bearer co-key-1"]
    assert "per-request" not in str(seen[0].headers.raw)
