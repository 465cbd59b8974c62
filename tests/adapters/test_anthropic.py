"""The Anthropic adapter: pure translation straight from fixtures, then the real SDK against the fake."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest

from adapters.anthropic import AnthropicAdapter
from adapters.anthropic.errors import classify_anthropic_error_body
from adapters.anthropic.request import (
    DEFAULT_MAX_TOKENS,
    to_anthropic_body,
    to_anthropic_messages,
    to_anthropic_system,
    to_anthropic_tool_choice,
    to_anthropic_tools,
)
from adapters.anthropic.response import (
    from_anthropic_response,
    from_anthropic_usage,
    map_anthropic_stop_reason,
)
from adapters.anthropic.stream import AnthropicStreamDecoder
from adapters.anthropic.wire import WireUsage
from adapters.base import Opening, Timeouts, UpstreamCall
from adapters.sse import SSEDecoder
from adapters.transport import sse_named
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
    Message,
    NamedFunction,
    NamedToolChoice,
    ReasoningPart,
    Sampling,
    SystemMessage,
    TextFormat,
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
from tests.fakes.anthropic import API_VERSION, anthropic_error, anthropic_responder, fake_anthropic
from tests.fakes.server import MANIFEST, FakeVendor, Received, Reply, ServerThread, fixture_bytes

KEY = "sk-ant-test-0123456789abcdefghij"
MODEL = "claude-sonnet-4-5-20250929"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds3Q8TwsT0hA2z0WzCw=="
WEATHER = Tool(
    function=FunctionDefinition(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


def body_for(*messages: Message, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    request = ChatRequest(
        model=f"anthropic/{MODEL}", messages=list(messages) or [UserMessage(content="Hi")], **fields
    )
    return to_anthropic_body(request, MODEL, warnings), warnings


def decode_stream(
    name: str, *, chunk: int | None = None, decoder: AnthropicStreamDecoder | None = None
) -> Iterator[StreamEvent]:
    """The decoder's own events (no `Start`: the stream loop makes it, from `decoder.opening`)."""
    raw = fixture_bytes(f"anthropic/{name}")
    frames = SSEDecoder()
    decoder = decoder or AnthropicStreamDecoder("anthropic")
    pieces = [raw] if chunk is None else [raw[i : i + chunk] for i in range(0, len(raw), chunk)]
    for piece in pieces:
        for sse in frames.feed(piece):
            yield from decoder.feed(sse.event, sse.data)
    for sse in frames.flush():
        yield from decoder.feed(sse.event, sse.data)
    yield from decoder.close()


def reasoning_parts(events: list[StreamEvent]) -> list[ReasoningPart]:
    """What a client does with reasoning deltas: a part ends at its signature or is one redacted delta."""
    parts: list[ReasoningPart] = []
    text = ""
    for event in events:
        if not isinstance(event, ReasoningDelta):
            continue
        if event.redacted is not msgspec.UNSET:
            parts.append(ReasoningPart(redacted=event.redacted))
            continue
        text += event.text
        if event.signature is not msgspec.UNSET:
            parts.append(ReasoningPart(text=text, signature=event.signature))
            text = ""
    return parts


# ---- request: system, roles, parts ----------------------------------------------------------------


def test_a_single_system_message_becomes_the_top_level_system_string() -> None:
    body, _ = body_for(SystemMessage(content="Be brief."), UserMessage(content="Hi"))
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_several_system_messages_join_the_system_blocks_in_order_wherever_they_stand() -> None:
    messages: list[Message] = [
        SystemMessage(content="One."),
        UserMessage(content="Hi"),
        SystemMessage(content=[TextPart(text="Two.")]),
    ]
    assert to_anthropic_system(messages, []) == [
        {"type": "text", "text": "One."},
        {"type": "text", "text": "Two."},
    ]
    assert [turn["role"] for turn in to_anthropic_messages(messages, [])] == ["user"]


def test_no_system_message_sends_no_system_field() -> None:
    body, _ = body_for(UserMessage(content="Hi"))
    assert "system" not in body


def test_roles_and_multi_turn_history_keep_their_order() -> None:
    body, _ = body_for(
        UserMessage(content="Hi"), AssistantMessage(content="Hello!"), UserMessage(content="Weather?")
    )
    assert body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather?"},
    ]


def test_images_by_url_and_by_data_url_and_bare_base64() -> None:
    body, warnings = body_for(
        UserMessage(
            content=[
                TextPart(text="What is this?"),
                ImagePart(url="https://example.com/cat.png"),
                ImagePart(base64=f"data:image/jpeg;base64,{PNG}"),
                ImagePart(base64=PNG),
            ]
        )
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    assert warnings == []


def test_image_detail_is_reported_not_sent() -> None:
    body, warnings = body_for(
        UserMessage(content=[ImagePart(url="https://example.com/a.png", detail="high")])
    )
    assert "detail" not in body["messages"][0]["content"][0]
    assert warnings == ["image detail is not supported by anthropic; it was not sent"]


@pytest.mark.parametrize(
    ("message", "what"),
    [
        (UserMessage(content=[AudioPart(base64="data:audio/wav;base64,UklGRg==")]), "an audio part"),
        (UserMessage(content=[VideoPart(url="https://example.com/a.mp4")]), "a video part"),
        (UserMessage(content=[ImagePart(base64="data:image/bmp;base64,Qk0=")]), "an image of type image/bmp"),
        (AssistantMessage(content=[ImagePart(url="https://example.com/a.png")]), "an image part outside"),
        (SystemMessage(content=[ImagePart(url="https://example.com/a.png")]), "an image part outside"),
    ],
)
def test_parts_anthropic_cannot_take_are_refused_by_name(message: Message, what: str) -> None:
    with pytest.raises(GatewayError) as raised:
        body_for(message)
    assert raised.value.code == Code.UNSUPPORTED
    assert raised.value.provider == "anthropic"
    assert raised.value.message.startswith(f"anthropic cannot take {what}")


def test_a_user_name_is_reported_not_sent() -> None:
    body, warnings = body_for(UserMessage(content="Hi", name="bob"))
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert warnings == ["message names are not supported by anthropic; they were not sent"]


# ---- request: tools ---------------------------------------------------------------------------------


def test_tool_definitions_become_input_schemas() -> None:
    bare = Tool(function=FunctionDefinition(name="ping", strict=True))
    assert to_anthropic_tools([WEATHER, bare]) == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER.function.parameters,
        },
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}, "strict": True},
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            NamedToolChoice(function=NamedFunction(name="get_weather")),
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    assert to_anthropic_tool_choice(choice) == expected
    body, _ = body_for(tools=[WEATHER], tool_choice=choice)
    assert body["tool_choice"] == expected


def test_assistant_tool_calls_and_tool_results_in_history() -> None:
    calls = [
        ToolCall(id="toolu_1", function=FunctionCall(name="get_weather", arguments='{"city":"Paris"}')),
        ToolCall(id="toolu_2", function=FunctionCall(name="get_time", arguments="")),
    ]
    messages: list[Message] = [
        UserMessage(content="Weather and time in Paris?"),
        AssistantMessage(content="Checking.", tool_calls=calls),
        ToolMessage(tool_call_id="toolu_1", content="18C, sunny"),
        ToolMessage(
            tool_call_id="toolu_2", content=[TextPart(text="14:05"), ImagePart(url="https://e.com/c.png")]
        ),
        UserMessage(content="Thanks, and in Rome?"),
        UserMessage(content="Also Oslo."),
    ]
    turns = to_anthropic_messages(messages, [])
    assert turns[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
    }
    assert turns[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, sunny"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "content": [
                    {"type": "text", "text": "14:05"},
                    {"type": "image", "source": {"type": "url", "url": "https://e.com/c.png"}},
                ],
            },
            {"type": "text", "text": "Thanks, and in Rome?"},
        ],
    }
    assert turns[3] == {"role": "user", "content": "Also Oslo."}
    assert len(turns) == 4


def test_an_assistant_turn_with_only_tool_calls_has_no_text_block() -> None:
    call = ToolCall(id="toolu_1", function=FunctionCall(name="get_weather", arguments='{"city":"Paris"}'))
    turns = to_anthropic_messages([AssistantMessage(content=None, tool_calls=[call])], [])
    assert [block["type"] for block in turns[0]["content"]] == ["tool_use"]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_tool_call_arguments_that_are_not_a_json_object_are_refused(arguments: str) -> None:
    call = ToolCall(id="toolu_1", function=FunctionCall(name="f", arguments=arguments))
    with pytest.raises(GatewayError) as raised:
        to_anthropic_messages([AssistantMessage(tool_calls=[call])], [])
    assert raised.value.code == Code.INVALID_REQUEST


# ---- request: response_format, sampling, extras, stream ---------------------------------------------


def test_json_schema_output_goes_to_output_config_format() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body, _ = body_for(response_format=JsonSchemaFormat(json_schema=JsonSchema(name="place", schema=schema)))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def test_json_object_output_is_a_schema_of_any_object() -> None:
    body, _ = body_for(response_format=JsonObjectFormat())
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}


def test_text_output_sends_no_output_config() -> None:
    body, _ = body_for(response_format=TextFormat())
    assert "output_config" not in body


def test_max_tokens_and_stop_map_to_anthropic_names() -> None:
    body, warnings = body_for(sampling=Sampling(max_tokens=100, stop=["END"]))
    assert body["max_tokens"] == 100
    assert body["stop_sequences"] == ["END"]
    assert "stop" not in body
    assert warnings == []


def test_max_tokens_defaults_to_4096_as_anthropic_requires_one() -> None:
    body, _ = body_for()
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS == 4096


def test_the_default_max_tokens_leaves_room_above_a_thinking_budget() -> None:
    body, _ = body_for(extra={"thinking": {"type": "enabled", "budget_tokens": 10000}})
    assert body["max_tokens"] == 14096
    body, _ = body_for(extra={"max_tokens": 321})
    assert body["max_tokens"] == 321


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", 0.2),
        ("top_p", 0.9),
        ("top_k", 40),
        ("seed", 7),
        ("frequency_penalty", 0.5),
        ("presence_penalty", 0.5),
    ],
)
def test_sampling_params_anthropic_rejects_are_reported_not_sent(name: str, value: Any) -> None:
    body, warnings = body_for(sampling=Sampling(max_tokens=10, **{name: value}))
    assert name not in body
    assert warnings == [f"{name} is not supported by anthropic; it was not sent"]


def test_extras_go_to_the_top_level_verbatim_and_merge_with_output_config() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    schema = {"type": "object"}
    body, _ = body_for(
        response_format=JsonSchemaFormat(json_schema=JsonSchema(schema=schema)),
        extra={
            "thinking": thinking,
            "metadata": {"user_id": "u-1"},
            "output_config": {"effort": "low"},
            "model": "other",
            "stream": True,
        },
    )
    assert body["thinking"] == thinking
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["output_config"] == {"effort": "low", "format": {"type": "json_schema", "schema": schema}}
    assert body["model"] == MODEL
    assert "stream" not in body


def test_stream_requests_say_so_in_the_body() -> None:
    body, _ = body_for(stream=True)
    assert body["stream"] is True


# ---- request: reasoning round trip ------------------------------------------------------------------


def test_reasoning_goes_back_first_as_thinking_and_redacted_thinking_blocks() -> None:
    call = ToolCall(id="toolu_1", function=FunctionCall(name="get_weather", arguments='{"city":"Paris"}'))
    message = AssistantMessage(
        content="Let me check.",
        tool_calls=[call],
        reasoning=[
            ReasoningPart(text="Need weather.", signature="sig-1"),
            ReasoningPart(redacted="opaque=="),
        ],
    )
    turns = to_anthropic_messages([UserMessage(content="Hi"), message], [])
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]


def test_reasoning_without_a_signature_is_reported_not_sent() -> None:
    warnings: list[str] = []
    turns = to_anthropic_messages(
        [AssistantMessage(content="4", reasoning=[ReasoningPart(text="2+2")])], warnings
    )
    assert turns[0] == {"role": "assistant", "content": "4"}
    assert warnings == ["reasoning without an anthropic signature cannot be sent back; it was not sent"]


def test_streamed_thinking_round_trips_into_the_next_turn_unchanged() -> None:
    events = list(decode_stream("thinking-stream.sse"))
    parts = reasoning_parts(events)
    assert parts == [ReasoningPart(text="The user wants 27 * 453. 27 * 453 = 12231.", signature=SIGNATURE)]
    turns = to_anthropic_messages([AssistantMessage(content="27 × 453 = 12,231", reasoning=parts)], [])
    assert turns[0]["content"][0] == {
        "type": "thinking",
        "thinking": "The user wants 27 * 453. 27 * 453 = 12231.",
        "signature": SIGNATURE,
    }


# ---- responses --------------------------------------------------------------------------------------


def test_chat_fixture_decodes() -> None:
    raw = fixture_bytes("anthropic/chat.json")
    response = from_anthropic_response(raw, "anthropic")
    assert response.id == "msg_01HCDu5LRGeP2o7s2xGmxyx8"
    assert response.model == MODEL
    assert response.content == "Hello! How can I help you today?"
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "end_turn")
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.cached_input_tokens,
    ) == (10, 12, 0)
    assert response.tool_calls is msgspec.UNSET and response.reasoning is msgspec.UNSET
    assert bytes(response.raw) == raw


def test_tool_fixture_decodes_to_a_tool_call_with_json_string_arguments() -> None:
    response = from_anthropic_response(fixture_bytes("anthropic/tool.json"), "anthropic")
    assert response.content == "I'll check the current weather in Paris."
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "tool_use")
    assert response.tool_calls == [
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9",
            function=FunctionCall(name="get_weather", arguments='{"city":"Paris"}'),
        )
    ]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (412, 58)


def test_multi_tool_fixture_decodes_both_calls_in_order() -> None:
    response = from_anthropic_response(fixture_bytes("anthropic/tools-multi.json"), "anthropic")
    assert response.tool_calls is not msgspec.UNSET
    assert [(c.function.name, msgspec.json.decode(c.function.arguments)) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]


def test_thinking_and_redacted_thinking_blocks_become_reasoning_parts() -> None:
    raw = msgspec.json.encode(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque=="},
                {"type": "text", "text": "Done."},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            ],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 5,
                "output_tokens": 40,
                "output_tokens_details": {"thinking_tokens": 30},
            },
        }
    )
    response = from_anthropic_response(raw, "anthropic")
    assert response.reasoning == [
        ReasoningPart(text="Hmm.", signature="sig"),
        ReasoningPart(redacted="opaque=="),
    ]
    assert response.content == "Done."
    assert response.tool_calls is msgspec.UNSET
    assert response.usage.reasoning_tokens == 30


def test_usage_counts_cached_input_in_the_input_total() -> None:
    usage = from_anthropic_usage(
        WireUsage(
            input_tokens=10, output_tokens=5, cache_read_input_tokens=100, cache_creation_input_tokens=20
        )
    )
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (130, 5, 100)
    assert usage.reasoning_tokens is msgspec.UNSET


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
        ("something_new", "other"),
        (None, "other"),
    ],
)
def test_stop_reasons(raw: str | None, unified: str) -> None:
    assert map_anthropic_stop_reason(raw) == unified


def test_an_error_body_with_status_200_raises_classified() -> None:
    raw = msgspec.json.encode(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    with pytest.raises(UpstreamError) as raised:
        from_anthropic_response(raw, "anthropic")
    assert raised.value.code == Code.OVERLOADED


def test_a_reply_that_is_not_json_is_a_server_error() -> None:
    with pytest.raises(UpstreamError) as raised:
        from_anthropic_response(b"<html>bad gateway</html>", "anthropic")
    assert raised.value.code == Code.SERVER_ERROR


# ---- streams ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_chat_stream(chunk: int | None) -> None:
    decoder = AnthropicStreamDecoder("anthropic")
    events = list(decode_stream("chat-stream.sse", chunk=chunk, decoder=decoder))
    assert decoder.opening == Opening(id="msg_01HCDu5LRGeP2o7s2xGmxyx8", model=MODEL)
    assert not any(isinstance(e, Start) for e in events)
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Hello",
        "! How can I",
        " help you today?",
    ]
    assert events[-2:] == [
        UsageEvent(input_tokens=10, output_tokens=12, cached_input_tokens=0, cache_write_input_tokens=0),
        Finish(reason="stop", raw_reason="end_turn"),
    ]
    assert len(events) == 5


def test_tool_stream() -> None:
    events = list(decode_stream("tool-stream.sse"))
    assert (
        "".join(e.text for e in events if isinstance(e, TextDelta))
        == "I'll check the current weather in Paris."
    )
    assert [e for e in events if isinstance(e, ToolCallStart)] == [
        ToolCallStart(index=0, id="toolu_01A09q90qw90lq917835lq9", name="get_weather")
    ]
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    assert all(e.index == 0 and e.arguments for e in fragments)
    assert msgspec.json.decode("".join(e.arguments for e in fragments)) == {"city": "Paris"}
    assert events[-2:] == [
        UsageEvent(input_tokens=412, output_tokens=58, cached_input_tokens=0, cache_write_input_tokens=0),
        Finish(reason="tool_calls", raw_reason="tool_use"),
    ]


def test_multi_tool_stream_numbers_calls_by_position() -> None:
    events = list(decode_stream("tools-multi-stream.sse"))
    starts = [(e.index, e.name) for e in events if isinstance(e, ToolCallStart)]
    assert starts == [(0, "get_weather"), (1, "get_time")]
    joined: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            joined[event.index] = joined.get(event.index, "") + event.arguments
    assert {i: msgspec.json.decode(a) for i, a in joined.items()} == {
        0: {"city": "Paris"},
        1: {"timezone": "Europe/Paris"},
    }


def test_thinking_stream() -> None:
    events = list(decode_stream("thinking-stream.sse"))
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert reasoning == [
        ReasoningDelta(index=0, text="The user wants 27 * 453."),
        ReasoningDelta(index=0, text=" 27 * 453 = 12231."),
        ReasoningDelta(index=0, text="", signature=SIGNATURE),
    ]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["27 × 453 = 12,231"]
    assert events.index(reasoning[-1]) < next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert events[-2] == UsageEvent(
        input_tokens=38, output_tokens=61, cached_input_tokens=0, cache_write_input_tokens=0
    )


def test_error_event_inside_a_200_stream_raises_after_the_text_so_far() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        for event in decode_stream("error-stream.sse"):
            seen.append(event)
    assert raised.value.code == Code.OVERLOADED
    assert raised.value.message == "anthropic: Overloaded"
    assert [type(e) for e in seen] == [TextDelta]


async def test_a_stream_cut_before_message_stop_is_a_connection_error() -> None:
    raw = fixture_bytes("anthropic/chat-stream.sse")
    decoder = sse_named(AnthropicStreamDecoder("anthropic"))
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        await through_the_loop(decoder, raw[: raw.index(b"event: message_delta")], seen=seen)
    assert raised.value.code == Code.CONNECTION
    assert not any(isinstance(event, Finish) for event in seen)


def test_redacted_thinking_unknown_events_and_argumentless_tools() -> None:
    decoder = AnthropicStreamDecoder("anthropic")
    frames = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_2",
                    "model": MODEL,
                    "content": [],
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "opaque=="},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("brand_new_event", {"type": "brand_new_event", "whatever": [1]}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    events = [e for name, data in frames for e in decoder.feed(name, msgspec.json.encode(data).decode())]
    assert events == [
        ReasoningDelta(index=0, text="", redacted="opaque=="),
        ToolCallStart(index=0, id="toolu_9", name="now"),
        ToolCallDelta(index=0, arguments="{}"),
        UsageEvent(input_tokens=3, output_tokens=9, reasoning_tokens=4),
        Finish(reason="tool_calls", raw_reason="tool_use"),
    ]
    assert decoder.done and decoder.close() == []


# ---- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("error-401.json", Code.AUTHENTICATION),
        ("error-404.json", Code.NOT_FOUND),
        ("error-429.json", Code.RATE_LIMITED),
        ("error-529.json", Code.OVERLOADED),
    ],
)
def test_error_fixtures(name: str, code: Code) -> None:
    meta = MANIFEST[f"anthropic/{name}"]
    error = classify_anthropic_error_body(
        meta["status"], fixture_bytes(f"anthropic/{name}"), "anthropic", meta["headers"], KEY
    )
    assert (error.code, error.upstream_status, error.provider) == (code, meta["status"], "anthropic")
    assert error.retry_after == (12.0 if name == "error-429.json" else None)


@pytest.mark.parametrize(
    ("status", "kind", "message", "code"),
    [
        (400, "invalid_request_error", "messages: Field required", Code.INVALID_REQUEST),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 208367 tokens > 200000 maximum",
            Code.CONTEXT_LENGTH,
        ),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 1 + 2 > 2",
            Code.CONTEXT_LENGTH,
        ),
        (402, "billing_error", "Your credit balance is too low", Code.QUOTA_EXCEEDED),
        (403, "permission_error", "no access", Code.PERMISSION),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            Code.CONTEXT_LENGTH,
        ),
        (500, "api_error", "Internal server error", Code.SERVER_ERROR),
        (504, "timeout_error", "Request timed out", Code.TIMEOUT),
        (500, "timeout_error", "Request timed out", Code.TIMEOUT),
        (503, "some_new_error", "Unavailable", Code.OVERLOADED),
    ],
)
def test_error_types_decide_the_kind_and_status_backs_them_up(
    status: int, kind: str, message: str, code: Code
) -> None:
    reply = anthropic_error(status, kind, message)
    assert classify_anthropic_error_body(status, reply.body, "anthropic", {}).code == code


def test_a_body_that_is_not_anthropic_json_is_classified_by_status_and_quoted() -> None:
    error = classify_anthropic_error_body(502, b"<html>Bad Gateway</html>", "anthropic", {})
    assert error.code == Code.SERVER_ERROR
    assert "Bad Gateway" in error.message


def test_the_key_is_scrubbed_from_error_messages() -> None:
    reply = anthropic_error(401, "authentication_error", f"invalid x-api-key {KEY}")
    error = classify_anthropic_error_body(401, reply.body, "anthropic", {}, KEY)
    assert KEY not in error.message
    assert "[redacted]" in error.message


# ---- the fake answers the vendor's way ----------------------------------------------------------------


def _post(headers: dict[str, str], body: dict[str, Any]) -> Reply:
    return anthropic_responder(Received("POST", "/v1/messages", "", headers, msgspec.json.encode(body)))


def test_the_fake_accepts_bearer_or_x_api_key_and_answers_401_without_either() -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    version = {"anthropic-version": API_VERSION}
    assert _post({**version, "authorization": "Bearer k"}, body).status == 200
    assert _post({**version, "x-api-key": "k"}, body).status == 200
    assert _post(version, body).body == fixture_bytes("anthropic/error-401.json")
    assert _post({**version, "x-api-key": "k"}, {**body, "temperature": 1}).status == 400


# ---- the real SDK against the fake ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeVendor, str]]:
    fake = fake_anthropic()
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


@pytest.fixture
async def wired(served: tuple[FakeVendor, str]) -> AsyncIterator[tuple[FakeVendor, str, AnthropicAdapter]]:
    fake, url = served
    fake.clear()
    adapter = AnthropicAdapter()
    yield fake, url, adapter
    await adapter.aclose()


def _call(url: str, *, stream: bool = False, timeouts: Timeouts | None = None, **fields: Any) -> UpstreamCall:
    request = ChatRequest(
        model=f"anthropic/{MODEL}",
        messages=fields.pop("messages", [SystemMessage(content="Be brief."), UserMessage(content="Hello")]),
        stream=stream,
        **fields,
    )
    return UpstreamCall(
        request=request, model=MODEL, api_key=KEY, base_url=url, timeouts=timeouts or Timeouts()
    )


async def test_sdk_sends_one_request_with_bearer_key_version_and_our_body(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    response = await adapter.complete(_call(url, sampling=Sampling(temperature=0.5, stop=["END"])))
    assert response.content == "Hello! How can I help you today?"
    assert response.warnings == ["temperature is not supported by anthropic; it was not sent"]
    assert len(fake.received) == 1
    sent = fake.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in sent.headers
    assert sent.headers["anthropic-version"] == API_VERSION
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-stainless-retry-count"] == "0"
    assert sent.json() == {
        "model": MODEL,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}],
        "stop_sequences": ["END"],
        "max_tokens": 4096,
    }


async def test_sdk_stream_sends_stream_true_and_decodes_the_events(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    events = [event async for event in adapter.stream(_call(url, stream=True, tools=[WEATHER]))]
    body = fake.last.json()
    assert body["stream"] is True
    assert body["tools"][0]["input_schema"]["required"] == ["city"]
    assert events[0] == Start(id="msg_01Aq9w938a90dw8q", model=MODEL, provider="anthropic")
    assert events[1:] == list(decode_stream("tool-stream.sse"))


async def test_sdk_does_not_retry_and_the_retry_after_reaches_dispatch(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    fake.enqueue(Reply.fixture("anthropic/error-429.json"))
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(_call(url))
    assert (raised.value.code, raised.value.retry_after, raised.value.upstream_status) == (
        Code.RATE_LIMITED,
        12.0,
        429,
    )
    assert len(fake.received) == 1


async def test_a_slow_vendor_is_a_timeout(wired: tuple[FakeVendor, str, AnthropicAdapter]) -> None:
    fake, url, adapter = wired
    fake.enqueue(Reply.fixture("anthropic/chat.json", delay=2.0))
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(_call(url, timeouts=Timeouts(connect=1.0, total=0.3)))
    assert raised.value.code == Code.TIMEOUT


async def test_a_connection_cut_mid_stream_is_a_connection_error_after_the_text_so_far(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    raw = fixture_bytes("anthropic/chat-stream.sse")
    fake.enqueue(
        Reply.fixture("anthropic/chat-stream.sse", cut_after=raw.index(b"event: content_block_stop"))
    )
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in adapter.stream(_call(url, stream=True)):
            seen.append(event)
    assert raised.value.code == Code.CONNECTION
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == "Hello! How can I help you today?"


async def test_one_sdk_client_per_base_url_and_the_key_per_request(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    await adapter.complete(_call(url))
    other = UpstreamCall(
        request=_call(url).request, model=MODEL, api_key="sk-ant-other-key-000000", base_url=url
    )
    await adapter.complete(other)
    assert len(adapter._clients) == 1
    assert [r.headers["authorization"] for r in fake.received] == [
        f"Bearer {KEY}",
        "Bearer sk-ant-other-key-000000",
    ]


def test_the_adapter_can_be_built_outside_an_event_loop(served: tuple[FakeVendor, str]) -> None:
    _, url = served
    adapter = AnthropicAdapter()

    async def run() -> str | None:
        try:
            return (await adapter.complete(_call(url))).content
        finally:
            await adapter.aclose()

    assert asyncio.run(run()) == "Hello! How can I help you today?"


def test_manifest_status_and_headers_are_what_the_fake_serves() -> None:
    assert MANIFEST["anthropic/chat-stream.sse"]["headers"]["Content-Type"].startswith("text/event-stream")
    reply = anthropic_responder(
        Received(
            "POST",
            "/v1/messages",
            "",
            {"authorization": "Bearer k", "anthropic-version": API_VERSION},
            msgspec.json.encode({"model": MODEL, "max_tokens": 5, "messages": [], "stream": True}),
        )
    )
    assert reply.headers == MANIFEST["anthropic/chat-stream.sse"]["headers"]
    assert b"".join(reply.events or []) == fixture_bytes("anthropic/chat-stream.sse")


async def test_a_compressed_stream_is_decompressed_before_parsing(
    wired: tuple[FakeVendor, str, AnthropicAdapter],
) -> None:
    fake, url, adapter = wired
    raw = fixture_bytes("anthropic/chat-stream.sse")
    headers = {**MANIFEST["anthropic/chat-stream.sse"]["headers"], "Content-Encoding": "gzip"}
    fake.enqueue(Reply(headers=headers, body=gzip.compress(raw)))
    events = [event async for event in adapter.stream(_call(url, stream=True))]
    assert events[0] == Start(id="msg_01HCDu5LRGeP2o7s2xGmxyx8", model=MODEL, provider="anthropic")
    assert events[1:] == list(decode_stream("chat-stream.sse"))
