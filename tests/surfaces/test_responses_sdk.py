"""The Responses API driven by the official openai SDK: `responses.create`, `responses.stream`,
`previous_response_id`, retrieval, deletion and input items, one model per vendor."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import responses_answer, responses_stream_text
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, ledger_rows, openai_client

VENDORS = list(MODELS)
"""OpenAI answers from its own `/responses` (tests/fixtures/openai-responses/), the others
from their chat fixtures through the translation."""
_TEXT = responses_answer("text.json")
_CALL = responses_answer("function-call.json")["output"][0]


def _text(vendor: str, streamed: bool = False) -> str:
    if vendor != "openai":
        return KITS[vendor].text
    return responses_stream_text() if streamed else _TEXT["output"][0]["content"][0]["text"]


def _usage(vendor: str) -> tuple[int, int]:
    if vendor != "openai":
        return KITS[vendor].usage
    return _TEXT["usage"]["input_tokens"], _TEXT["usage"]["output_tokens"]


def _tool(vendor: str) -> tuple[str, dict[str, object]]:
    if vendor != "openai":
        return KITS[vendor].tool_name, KITS[vendor].tool_arguments
    return _CALL["name"], json.loads(_CALL["arguments"])


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_create(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    with openai_client(running) as client:
        raw = client.responses.with_raw_response.create(
            model=MODELS[vendor], input="Hello my name is Bob", instructions="Be brief."
        )
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODELS[vendor]
    assert response.output_text == _text(vendor)
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == _usage(vendor)
    assert response.usage.total_tokens == sum(_usage(vendor))
    request_id = raw.headers["x-request-id"]
    assert response.id == f"resp_{request_id}"
    assert VENDOR_KEY in json.dumps(fakes[vendor].last.headers)
    assert "Be brief." in json.dumps(fakes[vendor].last.json())
    rows = ledger_rows(running, request_id)
    assert [row["status"] for row in rows] == ["completed"]
    assert rows[0]["provider"] == vendor


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    with (
        openai_client(running) as client,
        client.responses.stream(model=MODELS[vendor], input="Hello") as stream,
    ):
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == _text(vendor, streamed=True)
    assert final.output_text == text
    assert final.usage is not None
    if vendor != "openai":  # the recorded stream's usage is its own (37, 11), not text.json's
        assert (final.usage.input_tokens, final.usage.output_tokens) == kit.usage


@pytest.mark.parametrize("vendor", VENDORS)
def test_function_call(running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str) -> None:
    with openai_client(running) as client:
        response = client.responses.create(
            model=MODELS[vendor], input="Weather in Paris?", tools=[WEATHER_TOOL]
        )
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1
    assert (calls[0].name, json.loads(calls[0].arguments)) == _tool(vendor)
    assert "get_weather" in json.dumps(fakes[vendor].last.json())


@pytest.mark.parametrize("vendor", VENDORS)
def test_streamed_function_call(running: RunningGateway, vendor: str) -> None:
    with (
        openai_client(running) as client,
        client.responses.stream(model=MODELS[vendor], input="Weather?", tools=[WEATHER_TOOL]) as stream,
    ):
        events = list(stream)
        final = stream.get_final_response()
    name, arguments = _tool(vendor)
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(deltas) == arguments
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done[0].arguments) == arguments
    calls = [item for item in final.output if item.type == "function_call"]
    assert calls[0].name == name


def test_previous_response_id_continues_across_vendors(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        first = client.responses.create(model=MODELS["openai"], input="My name is Bob.")
        second = client.responses.create(
            model=MODELS["anthropic"], input="What is my name?", previous_response_id=first.id
        )
    assert second.previous_response_id == first.id
    sent = fakes["anthropic"].last.json()
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert "My name is Bob." in json.dumps(sent["messages"][0])
    assert _text("openai") in json.dumps(sent["messages"][1])


def test_retrieve_delete_and_input_items(running: RunningGateway) -> None:
    with openai_client(running) as client:
        created = client.responses.create(model=MODELS["openai"], input="Hello")
        fetched = client.responses.retrieve(created.id)
        assert fetched.id == created.id
        assert fetched.output_text == created.output_text
        items = client.responses.input_items.list(created.id)
        assert [item.type for item in items.data] == ["message"]
        client.responses.delete(created.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model=MODELS["openai"], input="again", previous_response_id=created.id)


def test_reasoning_reaches_each_vendor_its_own_way(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        for vendor in ("gemini", "openai"):
            client.responses.create(model=MODELS[vendor], input="Think.", reasoning={"effort": "high"})
    gemini = fakes["gemini"].last.json()
    assert "thinkingConfig" in gemini["generationConfig"]
    assert "thinking" not in gemini and "reasoning_effort" not in json.dumps(gemini)
    assert fakes["openai"].last.json()["reasoning"] == {"effort": "high"}
