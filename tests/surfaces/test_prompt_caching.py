"""Prompt caching through the surfaces: what Claude Code (anthropic SDK) or an openai-SDK
client marks with `cache_control` reaches Anthropic on the same blocks, and the cache's
token counts and cost come back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import MODELS, VENDOR_KEY, anthropic_client, openai_client

EPHEMERAL = {"type": "ephemeral"}
FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures/anthropic/chat.json").read_text())
TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "cache_control": EPHEMERAL,
}


def _cached_reply() -> Reply:
    reply = copy.deepcopy(FIXTURE)
    reply["usage"].update(input_tokens=10, cache_creation_input_tokens=2000, cache_read_input_tokens=3000)
    return Reply.json(reply)


def test_claude_code_style_breakpoints_reach_anthropic_and_the_cache_counts_come_back(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["anthropic"].enqueue(_cached_reply())
    with anthropic_client(running) as client:
        message = client.messages.create(
            model=MODELS["anthropic"],
            max_tokens=64,
            system=[{"type": "text", "text": "You are a coding agent.", "cache_control": EPHEMERAL}],
            tools=[TOOL],
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "22 C",
                            "cache_control": EPHEMERAL,
                        },
                        {"type": "text", "text": "And tomorrow?", "cache_control": EPHEMERAL},
                    ],
                },
            ],
        )
    sent = fakes["anthropic"].last.json()
    assert sent["system"] == [{"type": "text", "text": "You are a coding agent.", "cache_control": EPHEMERAL}]
    assert sent["tools"][0]["cache_control"] == EPHEMERAL
    last = sent["messages"][-1]["content"]
    assert [block.get("cache_control") for block in last] == [EPHEMERAL, EPHEMERAL]
    usage = message.usage
    assert (usage.input_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (
        10,
        2000,
        3000,
    )
    # the surface's test config prices this model at 3 / 15 per million, no cache prices: fresh input
    assert usage.model_extra["cost"] == pytest.approx(((10 + 2000 + 3000) * 3.0 + 12 * 15.0) / 1e6)


def test_openai_sdk_parts_with_cache_control_reach_anthropic(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["anthropic"].enqueue(Reply.fixture("anthropic/chat.json"))
    with openai_client(running) as client:
        answer = client.chat.completions.create(
            model=MODELS["anthropic"],
            messages=[
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}],  # type: ignore[list-item,typeddict-unknown-key]
                },
                {"role": "user", "content": "hi"},
            ],
        )
    assert answer.choices[0].message.content
    assert fakes["anthropic"].last.json()["system"] == [
        {"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}
    ]


def test_a_vendor_without_breakpoints_gets_none_and_a_warning(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["openai"].enqueue(Reply.fixture("openai/chat.json"))
    body = {
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}],
            },
            {"role": "user", "content": "hi"},
        ]
    }
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        answer = client.post(f"/models/v2/{MODELS['openai']}", json=body)
    assert answer.status_code == 200, answer.text
    assert "cache_control is not supported by openai; it was not sent" in answer.json()["warnings"]
    assert b"cache_control" not in fakes["openai"].last.body


# -- /v1/messages/count_tokens ---------------------------------------------------------------------


def test_count_tokens_asks_anthropic_for_its_models(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["anthropic"].enqueue(Reply.json({"input_tokens": 1234}))
    with anthropic_client(running) as client:
        raw = client.messages.with_raw_response.count_tokens(
            model=MODELS["anthropic"],
            system=[{"type": "text", "text": "You are a coding agent.", "cache_control": EPHEMERAL}],
            tools=[TOOL],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        )
    assert raw.parse().input_tokens == 1234
    assert raw.headers["Token-Count"] == "anthropic"
    sent = fakes["anthropic"].last
    assert sent.path == "/v1/messages/count_tokens"
    body = sent.json()
    assert set(body) == {"model", "messages", "system", "tools"}  # no max_tokens: the endpoint refuses it
    assert body["model"] == "claude-sonnet-4-5-20250929"


def test_count_tokens_for_another_vendor_is_an_estimate_said_so(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with anthropic_client(running) as client:
        raw = client.messages.with_raw_response.count_tokens(
            model=MODELS["openai"], messages=[{"role": "user", "content": "x" * 300}]
        )
    assert raw.headers["Token-Count"] == "estimated"
    assert raw.parse().input_tokens == 100 + 8  # 300 bytes at 3 a token, + 8 for the message
    assert fakes["openai"].received == []


def test_count_tokens_passes_anthropics_errors_on(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["anthropic"].enqueue(
        Reply.json(
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}, status=400
        )
    )
    with anthropic_client(running) as client, pytest.raises(anthropic.BadRequestError):
        client.messages.count_tokens(model=MODELS["anthropic"], messages=[{"role": "user", "content": "hi"}])
