"""proxy/routing/capabilities.py at its own level: the plan takes a chat turn or a task (two
unrelated Structs) and gives back the same kind; a task asks for no capability and has no
max_tokens, so only its pool targets are checked."""

from __future__ import annotations

import pytest

from proxy.routing import catalogue_file
from proxy.routing.capabilities import plan
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.chat import ChatRequest, ImagePart, Sampling, UserMessage
from schemas.errors import Code, GatewayError
from schemas.tasks import RunRequest

CATALOGUE = catalogue_file.parse(
    """
version = 1

[models."openai/seeing"]
task = "chat"
source = "https://example.com/pricing"
read = 2026-12-07
max_output = 16384
capabilities = ["tools", "vision"]

[models."openai/blind"]
task = "chat"
source = "https://example.com/pricing"
read = 2026-12-07
capabilities = ["tools"]
""",
    "test",
)
OPENAI = ResolvedTarget(provider="openai", pool=None, model="seeing")
POOL = ResolvedTarget(provider=None, pool="gpu", model="llama")


def _served(pool: str) -> frozenset[str]:
    return frozenset({"llama"}) if pool == "gpu" else frozenset()


def _resolution(*targets: ResolvedTarget, task: str = "chat") -> Resolution:
    return Resolution(model_id="m", task=task, targets=targets)


def test_max_tokens_above_the_model_s_is_clamped_for_a_chat_turn() -> None:
    request = ChatRequest(
        model="m", messages=[UserMessage(content="hi")], sampling=Sampling(max_tokens=10**6)
    )
    planned = plan(request, _resolution(OPENAI), CATALOGUE, _served)
    assert isinstance(planned.request, ChatRequest)
    assert planned.request.sampling.max_tokens == 16384 and "16384" in planned.warnings[0]


def test_a_task_is_planned_as_itself_with_nothing_asked_or_clamped() -> None:
    task = RunRequest(model="m", task="summarization", text="long", params={"max_new_tokens": 10**6})
    planned = plan(task, _resolution(POOL, OPENAI, task="summarization"), CATALOGUE, _served)
    assert planned.request is task and planned.warnings == []
    assert planned.resolution.targets == (POOL, OPENAI)


def test_a_task_s_pool_that_serves_another_model_is_dropped_and_the_last_refused() -> None:
    task = RunRequest(model="m", task="summarization", text="long")
    other = ResolvedTarget(provider=None, pool="gpu", model="mistral")
    with pytest.raises(GatewayError) as refused:
        plan(task, _resolution(other, task="summarization"), CATALOGUE, _served)
    assert refused.value.code is Code.NOT_FOUND and "mistral" in refused.value.message
    kept = plan(task, _resolution(other, POOL, task="summarization"), CATALOGUE, _served)
    assert kept.resolution.targets == (POOL,)


def test_a_chat_turn_with_an_image_drops_a_model_without_vision() -> None:
    image = UserMessage(content=[ImagePart(url="https://example.com/cat.png")])
    request = ChatRequest(model="m", messages=[image])
    blind = ResolvedTarget(provider="openai", pool=None, model="blind")
    planned = plan(request, _resolution(blind, OPENAI), CATALOGUE, _served)
    assert planned.resolution.targets == (OPENAI,)
    with pytest.raises(GatewayError) as refused:
        plan(request, _resolution(blind), CATALOGUE, _served)
    assert refused.value.code is Code.UNSUPPORTED and "vision" in refused.value.message
