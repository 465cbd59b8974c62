"""The OpenAI-compatible surface driven by the official openai SDK's async client."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import fake_vector
from tests.surfaces.conftest import EMBEDDING_MODELS, KITS, MODELS, async_openai_client

HELLO = [{"role": "user", "content": "Hello my name is Bob and I like to eat"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("vendor", list(MODELS))
async def test_create_and_stream(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    async with async_openai_client(running) as client:
        completion = await client.chat.completions.create(model=MODELS[vendor], messages=HELLO)  # type: ignore[arg-type]
        stream = await client.chat.completions.create(
            model=MODELS[vendor],
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert completion.choices[0].message.content == kit.text
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == kit.text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == kit.usage[1]


@pytest.mark.parametrize("vendor", list(MODELS))
async def test_stream_helper_with_tools(running: RunningGateway, vendor: str) -> None:
    kit = KITS[vendor]
    async with (
        async_openai_client(running) as client,
        client.chat.completions.stream(
            model=MODELS[vendor],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            stream_options={"include_usage": True},
        ) as stream,
    ):
        done_events = [event async for event in stream if event.type == "tool_calls.function.arguments.done"]
        final = await stream.get_final_completion()
    assert [json.loads(event.arguments) for event in done_events] == [kit.tool_arguments]
    calls = final.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == kit.tool_name
    assert final.usage is not None and final.usage.prompt_tokens > 0


async def test_async_models_and_embeddings(running: RunningGateway) -> None:
    async with async_openai_client(running) as client:
        models = [model.id async for model in client.models.list()]
        answer = await client.embeddings.create(model=EMBEDDING_MODELS["cohere"], input=["a", "bcd"])
    assert MODELS["anthropic"] in models
    assert [item.embedding for item in answer.data] == [fake_vector("a"), fake_vector("bcd")]


async def test_async_errors_are_the_sdk_classes(running: RunningGateway) -> None:
    async with async_openai_client(running) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="nobody/nothing", messages=HELLO)  # type: ignore[arg-type]
        client.api_key = "ug-wrong"
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model=MODELS["openai"], messages=HELLO)  # type: ignore[arg-type]
