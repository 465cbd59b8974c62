"""Gemini: translation straight from fixtures (pure), then the real SDK against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest

from adapters.base import Opening, Timeouts, UpstreamCall
from adapters.gemini import GeminiAdapter, split_gemini_base_url
from adapters.gemini.errors import classify_gemini_error_body
from adapters.gemini.request import to_gemini_body
from adapters.gemini.response import from_gemini_response, map_gemini_finish_reason
from adapters.gemini.stream import (
    GeminiEventStream,
    GeminiStreamDecoder,
    find_bare_error,
    whole_stream_replies,
)
from adapters.sse import SSEDecoder
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
from tests.fakes.gemini import ERRORS, KIT, fake_gemini
from tests.fakes.server import FakeVendor, Reply, ServerThread, fixture_bytes

SIGNATURE = msgspec.json.decode(fixture_bytes("gemini/tool.json"))["candidates"][0]["content"]["parts"][0][
    "thoughtSignature"
]
KEY = "AIzaSyD-caller-key-0123456789abcdefghi"
WEATHER = Tool(function=FunctionDefinition(name="get_weather", parameters={"type": "object"}))


def body_of(*messages: Message, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    return to_gemini_body(
        ChatRequest(model="gemini/x", messages=list(messages), **fields), warnings
    ), warnings


def stream_events(raw: bytes, decoder: GeminiStreamDecoder | None = None) -> list[StreamEvent]:
    """The decoder's own events (no `Start`: the stream loop makes it, from `decoder.opening`)."""
    decoder, sse = decoder or GeminiStreamDecoder("gemini", "m"), SSEDecoder()
    events: list[StreamEvent] = []
    for event in sse.feed(raw) + sse.flush():
        events.extend(decoder.feed(event.data))
    return events + decoder.close()


# -- request building -------------------------------------------------------------------------


def test_system_roles_and_turn_merging() -> None:
    body, warnings = body_of(
        SystemMessage(content="Be brief."),
        SystemMessage(content=[TextPart(text="Answer in French.")]),
        UserMessage(content="Hi", name="ann"),
        UserMessage(content="Still there?"),
        AssistantMessage(content="Oui."),
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}, {"text": "Still there?"}]},
        {"role": "model", "parts": [{"text": "Oui."}]},
    ]
    assert warnings == ["message names are not supported by gemini; they were not sent"]


def test_media_parts() -> None:
    body, warnings = body_of(
        UserMessage(
            content=[
                ImagePart(url="https://example.com/a/cat.JPG?size=2", detail="low"),
                ImagePart(base64="data:image/webp;base64,UklGRgAA"),
                AudioPart(base64="data:audio/wav;base64,UklGRiQA"),
                VideoPart(url="https://cdn.example.com/clip.mp4"),
                VideoPart(url="https://www.youtube.com/watch?v=9hE5-98ZeCg"),
                ImagePart(url="https://example.com/picture"),
                ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
            ]
        )
    )
    assert body["contents"][0]["parts"] == [
        {"fileData": {"fileUri": "https://example.com/a/cat.JPG?size=2", "mimeType": "image/jpeg"}},
        {"inlineData": {"mimeType": "image/webp", "data": "UklGRgAA"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRiQA"}},
        {"fileData": {"fileUri": "https://cdn.example.com/clip.mp4", "mimeType": "video/mp4"}},
        {"fileData": {"fileUri": "https://www.youtube.com/watch?v=9hE5-98ZeCg"}},
        {"fileData": {"fileUri": "https://example.com/picture"}},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
    ]
    assert warnings == ["image detail is not supported by gemini; it was not sent"]


def test_an_image_in_the_system_prompt_is_refused_naming_gemini() -> None:
    with pytest.raises(GatewayError) as raised:
        body_of(SystemMessage(content=[ImagePart(url="https://x/y.png")]), UserMessage(content="Hi"))
    assert (
        raised.value.code is Code.UNSUPPORTED and "gemini cannot take an image part" in raised.value.message
    )


def test_tools_and_tool_choice() -> None:
    bare = Tool(function=FunctionDefinition(name="ping"))
    body, _ = body_of(UserMessage(content="Hi"), tools=[WEATHER, bare], tool_choice="auto")
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "parametersJsonSchema": {"type": "object"}},
                {"name": "ping"},
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            NamedToolChoice(function=NamedFunction(name="get_weather")),
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_variants(choice: Any, config: dict[str, Any]) -> None:
    body, _ = body_of(UserMessage(content="Hi"), tools=[WEATHER], tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_tool_calls_and_results_in_history() -> None:
    body, _ = body_of(
        UserMessage(content="Weather and time in Paris?"),
        AssistantMessage(
            content=None,
            tool_calls=[
                ToolCall(
                    id="call_gemini_bq0aaf_0", function=FunctionCall("get_weather", '{"city": "Paris"}')
                ),
                ToolCall(id="fc-own-7", function=FunctionCall("get_time", "")),
            ],
        ),
        ToolMessage(tool_call_id="call_gemini_bq0aaf_0", content='{"temperature": 21}'),
        ToolMessage(tool_call_id="fc-own-7", content="14:05"),
        UserMessage(content="Thanks"),
    )
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}, "id": "fc-own-7"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temperature": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}, "id": "fc-own-7"}},
                {"text": "Thanks"},
            ],
        },
    ]


def test_a_tool_result_answering_no_call_is_refused() -> None:
    with pytest.raises(GatewayError) as raised:
        body_of(UserMessage(content="Hi"), ToolMessage(tool_call_id="nope", content="1"))
    assert raised.value.code is Code.INVALID_REQUEST


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        (JsonObjectFormat(), {"responseMimeType": "application/json"}),
        (
            JsonSchemaFormat(json_schema=JsonSchema(name="p", schema={"type": "object"})),
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
    ],
)
def test_response_format(response_format: Any, expected: dict[str, Any]) -> None:
    body, _ = body_of(UserMessage(content="Hi"), response_format=response_format)
    assert body["generationConfig"] == expected


@pytest.mark.parametrize(
    ("unified", "value", "gemini"),
    [
        ("max_tokens", 64, "maxOutputTokens"),
        ("temperature", 0.2, "temperature"),
        ("top_p", 0.9, "topP"),
        ("top_k", 40, "topK"),
        ("stop", ["END"], "stopSequences"),
        ("seed", 7, "seed"),
        ("frequency_penalty", 0.5, "frequencyPenalty"),
        ("presence_penalty", -0.5, "presencePenalty"),
    ],
)
def test_each_sampling_parameter(unified: str, value: Any, gemini: str) -> None:
    body, warnings = body_of(UserMessage(content="Hi"), sampling=Sampling(**{unified: value}))
    assert body["generationConfig"] == {gemini: value}
    assert warnings == []


def test_extras_go_verbatim_and_merge_into_objects_we_also_set() -> None:
    extra = {
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}, "maxOutputTokens": 1},
    }
    body, _ = body_of(UserMessage(content="Hi"), sampling=Sampling(max_tokens=50), extra=extra)
    assert body["safetySettings"] == extra["safetySettings"]
    assert body["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}, "maxOutputTokens": 50}


# -- reasoning and thought signatures ---------------------------------------------------------


def test_a_tool_call_signature_survives_the_round_trip() -> None:
    reply = from_gemini_response(fixture_bytes("gemini/tool.json"), "gemini", "m")
    assert reply.reasoning == [ReasoningPart(signature=SIGNATURE)]
    assert reply.tool_calls is not msgspec.UNSET
    turn = AssistantMessage(content=reply.content, tool_calls=reply.tool_calls, reasoning=reply.reasoning)
    body, _ = body_of(
        UserMessage(content="Weather?"),
        turn,
        ToolMessage(tool_call_id=reply.tool_calls[0].id, content="sunny"),
    )
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIGNATURE}
    ]
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"


def test_parallel_calls_get_the_signature_on_the_first_call_only() -> None:
    reply = from_gemini_response(fixture_bytes("gemini/tools-multi.json"), "gemini", "m")
    turn = AssistantMessage(content=None, tool_calls=reply.tool_calls, reasoning=reply.reasoning)
    parts = body_of(UserMessage(content="?"), turn)[0]["contents"][1]["parts"]
    assert [("thoughtSignature" in part, part["functionCall"]["name"]) for part in parts] == [
        (True, "get_weather"),
        (False, "get_time"),
    ]


def test_thoughts_and_signatures_go_back_on_the_parts_they_came_from() -> None:
    raw = msgspec.json.encode(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "text": "Considering the greeting.",
                                "thought": True,
                                "thoughtSignature": "c2lnLXQ=",
                            },
                            {"text": "Bonjour"},
                            {"text": "!", "thoughtSignature": "c2lnLXg="},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "responseId": "r1",
        }
    )
    reply = from_gemini_response(raw, "gemini", "m")
    assert reply.content == "Bonjour!"
    assert reply.reasoning == [
        ReasoningPart(text="Considering the greeting.", signature="c2lnLXQ="),
        ReasoningPart(signature="c2lnLXg="),
    ]
    turn = AssistantMessage(content=reply.content, reasoning=reply.reasoning)
    assert body_of(UserMessage(content="Hi"), turn)[0]["contents"][1]["parts"] == [
        {"text": "Considering the greeting.", "thought": True, "thoughtSignature": "c2lnLXQ="},
        {"text": "Bonjour!", "thoughtSignature": "c2lnLXg="},
    ]


def test_a_call_signature_folded_into_a_thinking_block_moves_back_to_the_call() -> None:
    turn = AssistantMessage(
        content=None,
        tool_calls=[ToolCall(id="call_gemini_r_0", function=FunctionCall("get_weather", "{}"))],
        reasoning=[ReasoningPart(text="Need weather.", signature="c2ln"), ReasoningPart(redacted="opaque")],
    )
    body, warnings = body_of(UserMessage(content="?"), turn)
    assert body["contents"][1]["parts"] == [
        {"text": "Need weather.", "thought": True},
        {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": "c2ln"},
    ]
    assert warnings == ["redacted reasoning cannot be sent to gemini; it was not sent"]


# -- response and stream decoding -------------------------------------------------------------


def test_chat_fixture_decodes() -> None:
    reply = from_gemini_response(fixture_bytes("gemini/chat.json"), "gemini", "m")
    assert (reply.id, reply.model, reply.content) == ("mK0aaZ2XKuWMz7IPk8_w4Ac", "gemini-2.5-flash", KIT.text)
    assert (reply.finish_reason, reply.raw_finish_reason) == ("stop", "STOP")
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.reasoning_tokens) == (5, 30, 21)
    assert reply.usage.cached_input_tokens is msgspec.UNSET
    assert bytes(reply.raw) == fixture_bytes("gemini/chat.json")


def test_tool_fixture_decodes_with_a_stable_synthesized_id() -> None:
    reply = from_gemini_response(fixture_bytes("gemini/tool.json"), "gemini", "m")
    assert reply.content is None and (reply.finish_reason, reply.raw_finish_reason) == ("tool_calls", "STOP")
    assert reply.tool_calls == [
        ToolCall(
            id="call_gemini_bq0aaf-2L8eMz7IPn5ya-A4_0",
            function=FunctionCall("get_weather", '{"city":"Paris"}'),
        )
    ]
    streamed = stream_events(fixture_bytes("gemini/tool-stream.sse"))
    assert ToolCallStart(index=0, id=reply.tool_calls[0].id, name="get_weather") in streamed


def test_an_id_gemini_gives_its_call_passes_through() -> None:
    raw = b'{"candidates":[{"content":{"parts":[{"functionCall":{"id":"fc-9","name":"ping"}}]},"finishReason":"STOP"}]}'
    reply = from_gemini_response(raw, "gemini", "m")
    assert reply.tool_calls == [ToolCall(id="fc-9", function=FunctionCall("ping", "{}"))]


def test_usage_counts_cached_and_tool_use_prompt_tokens_as_input() -> None:
    raw = msgspec.json.encode(
        {
            "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {
                "promptTokenCount": 100,
                "cachedContentTokenCount": 60,
                "toolUsePromptTokenCount": 9,
                "candidatesTokenCount": 4,
            },
        }
    )
    reply = from_gemini_response(raw, "gemini", "fallback-model")
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.cached_input_tokens) == (
        109,
        4,
        60,
    )
    assert reply.usage.reasoning_tokens is msgspec.UNSET
    assert (reply.finish_reason, reply.model) == ("length", "fallback-model")


@pytest.mark.parametrize(
    ("raw", "calls", "unified"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", False, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "error"),
        ("MISSING_THOUGHT_SIGNATURE", True, "error"),
        ("LANGUAGE", False, "other"),
        (None, False, "other"),
    ],
)
def test_finish_reasons(raw: str | None, calls: bool, unified: str) -> None:
    assert map_gemini_finish_reason(raw, calls) == unified


def test_a_blocked_prompt_is_a_content_filter_error() -> None:
    with pytest.raises(UpstreamError) as raised:
        from_gemini_response(ERRORS[Code.CONTENT_FILTER].body, "gemini", "m")
    assert raised.value.code is Code.CONTENT_FILTER and "PROHIBITED_CONTENT" in raised.value.message


def test_chat_stream_fixture() -> None:
    decoder = GeminiStreamDecoder("gemini", "m")
    events = stream_events(fixture_bytes("gemini/chat-stream.sse"), decoder)
    assert decoder.opening == Opening(id="mK0aaZ2XKuWMz7IPk8_w4Ac", model="gemini-2.5-flash")
    assert not any(isinstance(e, Start) for e in events)
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == KIT.text
    assert events[-2:] == [
        UsageEvent(input_tokens=5, output_tokens=30, reasoning_tokens=21),
        Finish(reason="stop", raw_reason="STOP"),
    ]


def test_tool_stream_fixtures() -> None:
    events = stream_events(fixture_bytes("gemini/tool-stream.sse"))
    assert events[:3] == [
        ReasoningDelta(index=0, text="", signature=SIGNATURE),
        ToolCallStart(index=0, id="call_gemini_bq0aaf-2L8eMz7IPn5ya-A4_0", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"city":"Paris"}'),
    ]
    assert events[-1] == Finish(reason="tool_calls", raw_reason="STOP")
    multi = stream_events(fixture_bytes("gemini/tools-multi-stream.sse"))
    starts = [(event.index, event.name) for event in multi if isinstance(event, ToolCallStart)]
    assert starts == [(0, "get_weather"), (1, "get_time")]
    assert ToolCallDelta(index=1, arguments='{"timezone":"Europe/Paris"}') in multi


def test_thinking_stream() -> None:
    raw = b"".join(
        b"data: " + msgspec.json.encode(chunk) + b"\r\n\r\n"
        for chunk in [
            {
                "candidates": [{"content": {"parts": [{"text": "Weighing", "thought": True}]}}],
                "responseId": "r",
            },
            {
                "candidates": [{"content": {"parts": [{"text": " options.", "thought": True}]}}],
                "responseId": "r",
            },
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": "Hi", "thoughtSignature": "c2ln"}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "thoughtsTokenCount": 12},
            },
        ]
    )
    assert stream_events(raw) == [
        ReasoningDelta(index=0, text="Weighing"),
        ReasoningDelta(index=0, text=" options."),
        ReasoningDelta(index=0, text="", signature="c2ln"),
        TextDelta(index=0, text="Hi"),
        UsageEvent(input_tokens=3, output_tokens=13, reasoning_tokens=12),
        Finish(reason="stop", raw_reason="STOP"),
    ]


def test_the_legacy_json_array_stream_decodes_to_the_same_events() -> None:
    decoder = GeminiStreamDecoder("gemini", "m")
    events = [
        e
        for reply in whole_stream_replies(fixture_bytes("gemini/legacy-stream.json"))
        for e in decoder.feed_chunk(reply)
    ]
    assert events + decoder.close() == stream_events(fixture_bytes("gemini/chat-stream.sse"))


async def test_errors_inside_a_stream() -> None:
    secret = "plain-secret-0042"  # not shaped like a key: only the exact-secret scrub removes it
    decoder = GeminiStreamDecoder("gemini", "m", (secret,))
    events = decoder.feed(
        b'{"candidates":[{"content":{"parts":[{"text":"Hel"}]},"index":0}],"responseId":"r"}'
    )
    assert isinstance(events[0], TextDelta) and decoder.opening == Opening(id="r", model="m")
    with pytest.raises(UpstreamError) as raised:
        decoder.feed(
            f'{{"error":{{"code":503,"message":"Overloaded for {secret}.","status":"UNAVAILABLE"}}}}'
        )
    assert raised.value.code is Code.OVERLOADED and raised.value.upstream_status == 503
    assert secret not in raised.value.message
    cut_short = b'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}]},"index":0}]}\n\n'
    with pytest.raises(UpstreamError) as cut:
        await through_the_loop(GeminiEventStream(GeminiStreamDecoder("gemini", "m")), cut_short)
    assert cut.value.code is Code.CONNECTION
    bare = b'data: {"candidates":[]}\r\n\r\n' + fixture_bytes("gemini/error-503.json")
    error = find_bare_error(bare)
    assert error is not None and error.status == "UNAVAILABLE"
    assert find_bare_error(b'data: {"candidates":[]}\r\n\r\n') is None


# -- error classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [(code, reply.status) for code, reply in ERRORS.items() if reply.status != 200],
)
def test_error_replies_classify(code: Code, status: int) -> None:
    error = classify_gemini_error_body(status, ERRORS[code].body, "gemini", {})
    assert error.code is code and error.upstream_status == status and error.message.startswith("gemini: ")


def test_rate_limit_reads_retry_info_and_bodies_without_json_fall_back_to_status() -> None:
    assert (
        classify_gemini_error_body(429, fixture_bytes("gemini/error-429.json"), "gemini", {}).retry_after
        == 27.0
    )
    assert classify_gemini_error_body(429, b"{}", "gemini", {"retry-after": "3"}).retry_after == 3.0
    assert (
        classify_gemini_error_body(502, b"<html>Bad Gateway</html>", "gemini", {}).code is Code.SERVER_ERROR
    )
    unauthenticated = b'{"error":{"code":401,"message":"no","status":"UNAUTHENTICATED"}}'
    assert classify_gemini_error_body(401, unauthenticated, "gemini", {}).code is Code.AUTHENTICATION


def test_error_messages_are_scrubbed_of_the_key() -> None:
    body = msgspec.json.encode(
        {"error": {"code": 400, "message": f"API key {KEY} not valid.", "status": "INVALID_ARGUMENT"}}
    )
    error = classify_gemini_error_body(400, body, "gemini", {}, KEY)
    assert KEY not in error.message and "[redacted]" in error.message


# -- the real SDK against the fake ------------------------------------------------------------


class HeaderLog:
    """Records every header line as sent, duplicates included (FakeVendor keeps one per name)."""

    def __init__(self, app: FakeVendor) -> None:
        self.app = app
        self.headers: list[list[tuple[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append([(name.decode().lower(), value.decode()) for name, value in scope["headers"]])
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HeaderLog, str]]:
    log = HeaderLog(fake_gemini())
    server = ServerThread(log, lifespan="off").start()
    yield log, server.url
    server.stop()


@pytest.fixture
async def gemini(
    served: tuple[HeaderLog, str],
) -> AsyncIterator[tuple[GeminiAdapter, FakeVendor, HeaderLog, str]]:
    log, url = served
    log.app.clear()
    log.headers.clear()
    adapter = GeminiAdapter()
    yield adapter, log.app, log, url
    await adapter.aclose()


def call_for(
    url: str, *, key: str = KEY, stream: bool = False, timeouts: Timeouts | None = None, **fields: Any
) -> UpstreamCall:
    request = ChatRequest(
        model="gemini/gemini-2.5-flash",
        messages=[UserMessage(content="Hello")],
        stream=stream,
        sampling=Sampling(max_tokens=100),
        **fields,
    )
    return UpstreamCall(
        request=request, model="gemini-2.5-flash", api_key=key, base_url=url, timeouts=timeouts or Timeouts()
    )


async def test_sdk_sends_our_body_to_v1beta_with_only_the_callers_key(
    gemini: tuple[GeminiAdapter, FakeVendor, HeaderLog, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, fake, log, url = gemini
    for name, value in [
        ("GOOGLE_API_KEY", "AIzaEnvironmentKey0000000000"),
        ("GOOGLE_GENAI_API_VERSION", "v1"),
        ("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9"),
        ("GOOGLE_GENAI_USE_VERTEXAI", "true"),
    ]:
        monkeypatch.setenv(name, value)
    call = call_for(url, tools=[WEATHER])
    reply = await adapter.complete(call)
    assert reply.finish_reason == "tool_calls"
    sent = fake.last
    assert (sent.method, sent.path, sent.query) == (
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "",
    )
    assert sent.body == msgspec.json.encode(to_gemini_body(call.request, []))
    assert [value for name, value in log.headers[-1] if name == "x-goog-api-key"] == [KEY]
    assert sent.headers["content-type"] == "application/json" and sent.headers["x-server-timeout"] == "600"


async def test_sdk_stream_path_and_two_callers_keep_their_own_keys(
    gemini: tuple[GeminiAdapter, FakeVendor, HeaderLog, str],
) -> None:
    adapter, fake, log, url = gemini
    events = [event async for event in adapter.stream(call_for(url, stream=True))]
    assert (fake.last.path, fake.last.query) == (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "alt=sse",
    )
    assert isinstance(events[-1], Finish)
    await adapter.complete(call_for(url, key="AIzaSecondCallerKey00000000"))
    await adapter.complete(call_for(url))
    keys = [[value for name, value in headers if name == "x-goog-api-key"] for headers in log.headers]
    assert keys == [[KEY], ["AIzaSecondCallerKey00000000"], [KEY]]


async def test_base_url_may_name_the_api_version(
    gemini: tuple[GeminiAdapter, FakeVendor, HeaderLog, str],
) -> None:
    adapter, fake, _, url = gemini
    assert split_gemini_base_url("https://generativelanguage.googleapis.com") == (
        "https://generativelanguage.googleapis.com/",
        "v1beta",
    )
    await adapter.complete(call_for(f"{url}/v1/"))
    assert fake.last.path == "/v1/models/gemini-2.5-flash:generateContent"


async def test_sdk_retries_are_off_and_timeouts_apply(
    gemini: tuple[GeminiAdapter, FakeVendor, HeaderLog, str],
) -> None:
    adapter, fake, _, url = gemini
    fake.enqueue(Reply.fixture("gemini/error-503.json"))
    with pytest.raises(UpstreamError) as raised:
        await adapter.complete(call_for(url))
    assert raised.value.code is Code.OVERLOADED and len(fake.received) == 1
    fake.enqueue(Reply.fixture("gemini/chat.json", delay=1.0))
    with pytest.raises(UpstreamError) as slow:
        await adapter.complete(call_for(url, timeouts=Timeouts(connect=1, total=0.2)))
    assert slow.value.code is Code.TIMEOUT


async def test_streams_answered_as_a_json_array_or_cut_by_bare_json_errors(
    gemini: tuple[GeminiAdapter, FakeVendor, HeaderLog, str],
) -> None:
    adapter, fake, _, url = gemini
    fake.enqueue(Reply.fixture("gemini/legacy-stream.json"))
    events = [event async for event in adapter.stream(call_for(url, stream=True))]
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == KIT.text
    first = fixture_bytes("gemini/chat-stream.sse").split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    fake.enqueue(
        Reply(
            headers={"Content-Type": "text/event-stream"},
            events=[first, fixture_bytes("gemini/error-429.json")],
        )
    )
    seen: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as raised:
        async for event in adapter.stream(call_for(url, stream=True)):
            seen.append(event)
    assert raised.value.code is Code.RATE_LIMITED and raised.value.retry_after == 27.0
    assert any(isinstance(event, TextDelta) for event in seen)
