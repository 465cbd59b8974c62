"""Prompt-caching breakpoints (`cache_control`): sent where Anthropic takes them, named in a
warning (never sent) for every other vendor; cache writes counted and priced."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.anthropic.request import to_anthropic_body
from adapters.anthropic.response import from_anthropic_usage
from adapters.anthropic.wire import WireUsage
from adapters.bytez_worker.request import to_bytez_chat_body, to_bytez_messages
from adapters.cohere.request import to_cohere_body
from adapters.gemini.request import to_gemini_body
from adapters.openai.request import Dialect, to_openai_body
from proxy.accounting.metering import token_cost
from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from schemas.config import ModelPrice

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def _request() -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[
            SystemMessage(content=[TextPart(text="You are terse.", cache_control=HOUR)]),
            UserMessage(
                content=[
                    TextPart(text="A long document ..."),
                    ImagePart(url="https://example.com/a.png", cache_control=EPHEMERAL),
                    TextPart(text="What is in it?", cache_control=EPHEMERAL),
                ]
            ),
            AssistantMessage(
                content=None,
                tool_calls=[
                    ToolCall(id="toolu_1", function=FunctionCall(name="get_weather", arguments="{}"))
                ],
            ),
            ToolMessage(tool_call_id="toolu_1", content="22 C", cache_control=EPHEMERAL),
        ],
        tools=[
            Tool(
                function=FunctionDefinition(name="get_weather", parameters={"type": "object"}),
                cache_control=EPHEMERAL,
            )
        ],
    )


def test_anthropic_gets_every_breakpoint_on_its_block() -> None:
    warnings: list[str] = []
    body = to_anthropic_body(_request(), "claude-sonnet-4-5", warnings)
    assert body["system"] == [{"type": "text", "text": "You are terse.", "cache_control": HOUR}]
    user, _, results = body["messages"]
    assert [block.get("cache_control") for block in user["content"]] == [None, EPHEMERAL, EPHEMERAL]
    assert results["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "22 C",
        "cache_control": EPHEMERAL,
    }
    assert body["tools"][0]["cache_control"] == EPHEMERAL
    assert warnings == []


def test_a_plain_system_prompt_stays_a_string() -> None:
    request = ChatRequest(model="m", messages=[SystemMessage(content=[TextPart(text="Be brief.")])])
    assert to_anthropic_body(request, "claude", [])["system"] == "Be brief."


def _sent(body: dict[str, Any]) -> bytes:
    return msgspec.json.encode(body)


@pytest.mark.parametrize("vendor", ["openai", "gemini", "cohere", "bytez"])
def test_other_vendors_never_get_it_and_are_named_in_a_warning(vendor: str) -> None:
    request = _request()
    warnings: list[str] = []
    if vendor == "openai":
        body = to_openai_body(request, "gpt-4o-mini", Dialect(), warnings)
    elif vendor == "gemini":
        body = to_gemini_body(request, warnings)
    elif vendor == "cohere":
        body = to_cohere_body(request, "command-a", warnings)
    else:
        request.tools = msgspec.UNSET
        body = to_bytez_chat_body(request, "pool:gpu", warnings)
        body["messages"] = to_bytez_messages(request)
    assert b"cache_control" not in _sent(body)
    assert any("cache_control is not supported" in warning for warning in warnings), warnings


def test_no_warning_without_breakpoints() -> None:
    warnings: list[str] = []
    to_openai_body(ChatRequest(model="m", messages=[UserMessage(content="hi")]), "gpt", Dialect(), warnings)
    assert warnings == []


def test_cache_writes_are_counted_and_priced_at_their_own_price() -> None:
    usage = from_anthropic_usage(
        WireUsage(
            input_tokens=10, output_tokens=20, cache_creation_input_tokens=1000, cache_read_input_tokens=500
        )
    )
    assert (usage.input_tokens, usage.cached_input_tokens, usage.cache_write_input_tokens) == (
        1510,
        500,
        1000,
    )
    price = ModelPrice(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    assert token_cost(usage, price) == pytest.approx((10 * 3.0 + 500 * 0.3 + 1000 * 3.75 + 20 * 15.0) / 1e6)
    # without a cache_write price, writes are billed as fresh input
    plain = ModelPrice(input=3.0, output=15.0)
    assert token_cost(usage, plain) == pytest.approx((1510 * 3.0 + 20 * 15.0) / 1e6)
    assert token_cost(Usage(input_tokens=10, output_tokens=20), price) == pytest.approx((30 + 300) / 1e6)
