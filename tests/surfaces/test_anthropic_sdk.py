"""The Anthropic-compatible surface driven by the official anthropic SDK, one model per vendor:
what a tool built on that SDK (Claude Code among them) sees whatever model it is pointed at."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, anthropic_client, ledger_rows

VENDORS = list(MODELS)
HELLO: list[Any] = [{"role": "user", "content": "Hello my name is Bob and I like to eat"}]
WEATHER: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds3Q8TwsT0hA2z0WzCw=="
"""The thinking signature in tests/fixtures/anthropic/thinking-stream.sse."""


@pytest.mark.parametrize("vendor", VENDORS)
def test_create(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    with anthropic_client(running) as client:
        raw = client.messages.with_raw_response.create(model=MODELS[vendor], max_tokens=256, messages=HELLO)
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODELS[vendor]
    assert message.id == f"msg_{raw.headers['request-id']}"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == kit.text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0) == kit.usage[0]
    assert message.usage.output_tokens == kit.usage[1]
    [row] = ledger_rows(running, raw.headers["request-id"])
    assert (row["status"], row["provider"]) == ("completed", vendor)


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_helper(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    with (
        anthropic_client(running) as client,
        client.messages.stream(model=MODELS[vendor], max_tokens=256, messages=HELLO) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == kit.text
    assert final.content[0].text == kit.text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == kit.usage[1]
    assert final.usage.input_tokens > 0


def test_raw_event_sequence(running: RunningGateway) -> None:
    with anthropic_client(running) as client:
        events = list(
            client.messages.create(model=MODELS["openai"], max_tokens=64, messages=HELLO, stream=True)
        )
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    delta: Any = events[-2]
    assert delta.delta.stop_reason == "end_turn"
    assert (delta.usage.input_tokens, delta.usage.output_tokens) == KITS["openai"].usage
    assert delta.usage.model_extra["cost"] == pytest.approx((19 * 0.4 + 10 * 1.6) / 1e6)


@pytest.mark.parametrize("vendor", VENDORS)
def test_tool_use(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    kit = KITS[vendor]
    with anthropic_client(running) as client:
        message = client.messages.create(
            model=MODELS[vendor], max_tokens=256, messages=WEATHER, tools=[WEATHER_TOOL]
        )
    assert message.stop_reason == "tool_use"
    [call] = [block for block in message.content if block.type == "tool_use"]
    assert call.name == kit.tool_name
    assert call.input == kit.tool_arguments
    assert call.id
    assert fakes[vendor].last.json().get("tools")


@pytest.mark.parametrize("vendor", VENDORS)
def test_streamed_tool_input(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    pieces: list[str] = []
    with (
        anthropic_client(running) as client,
        client.messages.stream(
            model=MODELS[vendor],
            max_tokens=256,
            messages=WEATHER,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "any"},
        ) as stream,
    ):
        for event in stream:
            if event.type == "input_json":
                pieces.append(event.partial_json)
        final = stream.get_final_message()
    assert pieces, "no input_json_delta arrived"
    assert final.stop_reason == "tool_use"
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert (call.name, call.input) == (kit.tool_name, kit.tool_arguments)


def test_tool_loop_reaches_an_openai_model(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with anthropic_client(running) as client:
        client.messages.create(
            model=MODELS["openai"],
            max_tokens=64,
            system="Be brief.",
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                        {"type": "text", "text": "And tomorrow?"},
                    ],
                },
            ],
        )
    sent = fakes["openai"].last.json()
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
    ]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["max_completion_tokens"] == 64


def test_thinking_streams_with_its_signature(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    thinking: list[str] = []
    with (
        anthropic_client(running) as client,
        client.messages.stream(
            model=MODELS["anthropic"],
            max_tokens=2048,
            messages=[{"role": "user", "content": "27 * 453?"}],
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream,
    ):
        for event in stream:
            if event.type == "thinking":
                thinking.append(event.thinking)
        final = stream.get_final_message()
    assert fakes["anthropic"].last.json()["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "".join(thinking) == "The user wants 27 * 453. 27 * 453 = 12231."
    block: Any = final.content[0]
    assert (block.type, block.signature) == ("thinking", SIGNATURE)
    assert final.content[1].text == "27 × 453 = 12,231"  # type: ignore[union-attr]


def test_thinking_blocks_round_trip_to_anthropic(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with anthropic_client(running) as client:
        client.messages.create(
            model=MODELS["anthropic"],
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=[WEATHER_TOOL],
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Use the tool.", "signature": SIGNATURE},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}],
                },
            ],
        )
    sent = fakes["anthropic"].last.json()
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Use the tool.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_anthropic_only_fields_stay_off_other_vendors(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with anthropic_client(running) as client:
        client.messages.create(
            model=MODELS["openai"],
            max_tokens=64,
            messages=HELLO,
            thinking={"type": "enabled", "budget_tokens": 1024},
            metadata={"user_id": "bob"},
            stop_sequences=["END"],
        )
    sent = fakes["openai"].last.json()
    assert "thinking" not in sent and "metadata" not in sent
    assert sent["stop"] == ["END"]


def test_images_and_system_blocks(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with anthropic_client(running) as client:
        client.messages.create(
            model=MODELS["mistral"],
            max_tokens=64,
            system=[{"type": "text", "text": "You see."}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in these?"},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                }
            ],
        )
    sent = fakes["mistral"].last.json()
    assert sent["messages"][0]["role"] == "system"
    parts = sent["messages"][1]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url", "image_url"]
    assert parts[2]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="


def test_x_api_key_is_accepted_and_wins(running: RunningGateway) -> None:
    with anthropic_client(running, api_key="ug-wrong-bearer", **{"x-api-key": running.key}) as client:
        message = client.messages.create(model=MODELS["cohere"], max_tokens=64, messages=HELLO)
    assert message.content[0].text == KITS["cohere"].text  # type: ignore[union-attr]


def test_second_mount(running: RunningGateway) -> None:
    client = anthropic.Anthropic(
        base_url=running.url + "/models/v2/anthropic",
        api_key=running.key,
        default_headers={"Provider-Key": "sk-test"},
        max_retries=0,
    )
    with client:
        message = client.messages.create(model=MODELS["openai"], max_tokens=64, messages=HELLO)
    assert message.content[0].text == KITS["openai"].text  # type: ignore[union-attr]


def test_models_list_in_anthropic_shape(running: RunningGateway) -> None:
    with anthropic_client(running) as client:
        page = client.models.list()
    ids = [model.id for model in page.data]
    assert MODELS["anthropic"] in ids and MODELS["openai"] in ids
    assert page.data[0].type == "model"
    assert page.has_more is False
