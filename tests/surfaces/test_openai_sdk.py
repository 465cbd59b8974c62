"""The OpenAI-compatible surface driven by the official openai SDK (sync), one model per vendor."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, ledger_rows, openai_client

VENDORS = list(MODELS)
HELLO = [{"role": "user", "content": "Hello my name is Bob and I like to eat"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_create(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    kit = KITS[vendor]
    with openai_client(running) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODELS[vendor], messages=HELLO)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODELS[vendor]
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == kit.text
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == kit.usage
    assert completion.usage.total_tokens == sum(kit.usage)
    request_id = raw.headers["x-request-id"]
    assert completion.id == f"chatcmpl-{request_id}"
    assert float(raw.headers["inference-time"]) > 0
    assert fakes[vendor].received, "the vendor was not called"
    assert VENDOR_KEY in json.dumps(fakes[vendor].last.headers)
    rows = ledger_rows(running, request_id)
    assert [row["status"] for row in rows] == ["completed"]
    assert rows[0]["provider"] == vendor


def test_cost_rides_in_usage(running: RunningGateway) -> None:
    with openai_client(running) as client:
        completion = client.chat.completions.create(model=MODELS["openai"], messages=HELLO)
    assert completion.usage is not None
    extra = completion.usage.model_extra or {}
    assert extra["cost"] == pytest.approx((19 * 0.4 + 10 * 1.6) / 1e6)


def test_unpriced_model_has_a_null_cost(running: RunningGateway) -> None:
    with openai_client(running) as client:
        # routes to Gemini, but neither the catalogue nor [prices] knows it
        completion = client.chat.completions.create(model="google/gemini-0-uncatalogued", messages=HELLO)
    assert completion.usage is not None
    assert (completion.usage.model_extra or {})["cost"] is None


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_with_usage(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    with openai_client(running) as client:
        stream = client.chat.completions.create(
            model=MODELS[vendor], messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == kit.text
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == "stop"
    assert all(reason is None for reason in finishes[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == kit.usage
    assert "cost" in (last.usage.model_extra or {})
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(running: RunningGateway) -> None:
    with openai_client(running) as client:
        chunks = list(client.chat.completions.create(model=MODELS["openai"], messages=HELLO, stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_helper(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    deltas: list[str] = []
    with (
        openai_client(running) as client,
        client.chat.completions.stream(
            model=MODELS[vendor], messages=HELLO, stream_options={"include_usage": True}
        ) as stream,
    ):
        for event in stream:
            if event.type == "content.delta":
                deltas.append(event.delta)
        final = stream.get_final_completion()
    assert "".join(deltas) == kit.text
    assert final.choices[0].message.content == kit.text
    assert final.usage is not None
    assert final.usage.prompt_tokens == kit.usage[0]


@pytest.mark.parametrize("vendor", VENDORS)
def test_tools(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    kit = KITS[vendor]
    with openai_client(running) as client:
        completion = client.chat.completions.create(
            model=MODELS[vendor],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == kit.tool_name  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == kit.tool_arguments  # type: ignore[union-attr]
    assert fakes[vendor].last.json().get("tools"), "the tool definitions did not reach the vendor"


@pytest.mark.parametrize("vendor", VENDORS)
def test_streamed_tool_arguments(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    pieces: list[str] = []
    with (
        openai_client(running) as client,
        client.chat.completions.stream(
            model=MODELS[vendor],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        ) as stream,
    ):
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                pieces.append(event.arguments_delta)
        final = stream.get_final_completion()
    assert json.loads("".join(pieces)) == kit.tool_arguments
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].function.name == kit.tool_name
    assert json.loads(calls[0].function.arguments) == kit.tool_arguments


def test_first_tool_chunk_names_the_call(running: RunningGateway) -> None:
    with openai_client(running) as client:
        chunks = list(
            client.chat.completions.create(
                model=MODELS["openai"],
                messages=[{"role": "user", "content": "Weather in Paris?"}],
                tools=[WEATHER_TOOL],  # type: ignore[list-item]
                stream=True,
            )
        )
    starts = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    first = starts[0]
    assert first.index == 0
    assert first.id and first.type == "function"
    assert first.function is not None
    assert first.function.name == "get_weather" and first.function.arguments == ""
    assert all(piece.id is None and piece.function is not None for piece in starts[1:])


def test_tool_results_round_trip(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    with openai_client(running) as client:
        client.chat.completions.create(
            model=MODELS["anthropic"],
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
            ],
            max_tokens=64,
        )
    sent = fakes["anthropic"].last.json()
    assert sent["system"] == "Be brief."
    assert sent["max_tokens"] == 64
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C and sunny"}
    ]


def test_openai_only_fields_reach_openai_alone(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    """`user` is OpenAI's alone and reported elsewhere; `reasoning_effort` is unified and
    reaches Mistral, which has the same field."""
    answers = []
    with openai_client(running) as client:
        for vendor in ("openai", "mistral"):
            answers.append(
                client.chat.completions.with_raw_response.create(
                    model=MODELS[vendor],
                    messages=HELLO,
                    reasoning_effort="low",
                    user="bob",
                    stop="END",
                    max_completion_tokens=50,
                    extra_body={"safe_prompt": True} if vendor == "mistral" else {},
                )
            )
    to_openai = fakes["openai"].last.json()
    assert to_openai["reasoning_effort"] == "low" and to_openai["user"] == "bob"
    assert to_openai["stop"] == ["END"]
    to_mistral = fakes["mistral"].last.json()
    assert to_mistral["reasoning_effort"] == "low" and "user" not in to_mistral
    assert all(answer.status_code == 200 for answer in answers)
    assert to_mistral["safe_prompt"] is True
    assert to_mistral["max_tokens"] == 50


def test_image_parts_reach_the_vendor(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}},
    ]
    with openai_client(running) as client:
        client.chat.completions.create(model=MODELS["gemini"], messages=[{"role": "user", "content": parts}])  # type: ignore[misc, list-item]
    sent = fakes["gemini"].last.json()["contents"][-1]["parts"]
    assert sent[1]["fileData"]["fileUri"] == "https://example.com/cat.png"
    assert sent[2]["inlineData"]["data"] == "iVBORw0KGgoAAAANSUhEUg=="


def test_list_and_retrieve_models(running: RunningGateway) -> None:
    with openai_client(running) as client:
        listed = {model.id: model for model in client.models.list()}
        one = client.models.retrieve(MODELS["openai"])
    assert MODELS["openai"] in listed and MODELS["anthropic"] in listed
    assert listed[MODELS["anthropic"]].owned_by == "anthropic"
    assert listed[MODELS["openai"]].object == "model"
    assert one.id == MODELS["openai"] and one.owned_by == "openai"


@pytest.mark.parametrize("prefix", ["/v1", "/models/v2/openai/v1"])
def test_both_mounts_speak_openai(running: RunningGateway, prefix: str) -> None:
    with openai_client(running, prefix) as client:
        completion = client.chat.completions.create(model=MODELS["openai"], messages=HELLO)
        chunks = list(client.chat.completions.create(model=MODELS["openai"], messages=HELLO, stream=True))
        models = [model.id for model in client.models.list()]
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == KITS["openai"].text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert MODELS["openai"] in models
