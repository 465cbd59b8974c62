"""The OpenAI Agents SDK, unchanged, on unigate: a `Runner` with a function tool on
`OpenAIResponsesModel`, against a model routed to the fake Anthropic."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from tests.conftest import RunningGateway
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
    tool_reply = "anthropic/tool.json" if vendor == "anthropic" else "openai/tool.json"
    answer_reply = "anthropic/chat.json" if vendor == "anthropic" else "openai/chat.json"
    fake.enqueue(Reply.fixture(tool_reply))
    fake.enqueue(Reply.fixture(answer_reply))
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
    assert final == KITS[vendor].text
    second = fake.received[-1].json()
    assert "Sunny in Paris" in json.dumps(second)
    assert "Answer with the weather." in json.dumps(second)
