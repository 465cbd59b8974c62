"""The OpenAI Agents SDK, unchanged, on unigate: a `Runner` with a function tool on
`OpenAIResponsesModel`, against models routed to the fake Anthropic (through the chat
translation) and the fake OpenAI (its own `/responses`)."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from tests.conftest import RunningGateway
from tests.fakes.openai import responses_answer
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY

WEATHER_CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    WEATHER_CALLS.append(city)
    return f"Sunny in {city}"


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
def test_runner_calls_the_tool_then_answers(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    WEATHER_CALLS.clear()
    fake = fakes[vendor]
    if vendor == "anthropic":
        fake.enqueue(Reply.fixture("anthropic/tool.json"), Reply.fixture("anthropic/chat.json"))
        expected = KITS[vendor].text
    else:
        call = responses_answer("function-call.json")
        call["output"][0].update(name="get_weather", arguments='{"city":"Paris"}')
        answer = responses_answer("text.json")
        fake.enqueue(Reply.json(call), Reply.json(answer))
        expected = answer["output"][0]["content"][0]["text"]
    client = openai.AsyncOpenAI(
        base_url=running.url + "/v1",
        api_key=running.key,
        default_headers={"Provider-Key": VENDOR_KEY},
        max_retries=0,
    )
    agent = Agent(
        name="weather",
        instructions="Answer with the weather.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model=MODELS[vendor], openai_client=client),
    )

    async def run() -> str:
        result = await Runner.run(agent, "Weather in Paris?", run_config=RunConfig(tracing_disabled=True))
        await client.close()
        return str(result.final_output)

    final = asyncio.run(run())
    assert WEATHER_CALLS == ["Paris"]
    assert final == expected
    second = fake.received[-1].json()
    assert "Sunny in Paris" in json.dumps(second)
    assert "Answer with the weather." in json.dumps(second)
    if vendor == "openai":
        assert fake.received[-1].path == "/v1/responses"
        [output] = [item for item in second["input"] if item.get("type") == "function_call_output"]
        assert output["output"] == "Sunny in Paris"
