from __future__ import annotations

import pytest

from proxy.routing.routes import Router
from schemas.config import Config, Pool, Route, Target


@pytest.mark.parametrize(
    ("model_id", "provider", "upstream"),
    [
        ("openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("anthropic/claude-3-haiku-20240307", "anthropic", "claude-3-haiku-20240307"),
        ("google/gemini-1.5-flash", "gemini", "gemini-1.5-flash"),
        ("cohere/command-r", "cohere", "command-r"),
        ("mistral/mistral-small-latest", "mistral", "mistral-small-latest"),
    ],
)
def test_builtin_vendor_routes(model_id: str, provider: str, upstream: str) -> None:
    resolution = Router(Config()).resolve(model_id)
    assert resolution is not None
    assert (resolution.targets[0].provider, resolution.targets[0].model, resolution.task) == (
        provider,
        upstream,
        "chat",
    )


@pytest.mark.parametrize(
    "model_id",
    [
        "openai/gpt-oss-20b",
        "mistralai/Mistral-7B-Instruct-v0.3",
        "google/gemma-2-9b-it",
        "openai-community/gpt2",
        "OpenAI/gpt-4o",
        "openai/",
        "NousResearch/Hermes-3-Llama-3.1-8B",
    ],
)
def test_open_weights_never_go_to_a_vendor(model_id: str) -> None:
    assert Router(Config()).resolve(model_id) is None


def test_open_weights_go_to_the_default_pool() -> None:
    config = Config(pools=(Pool(name="gpu-a", urls=("http://10.0.0.5:8000",)),))
    resolution = Router(config).resolve("openai/gpt-oss-20b")
    assert resolution is not None and resolution.targets[0].pool == "gpu-a"
    assert resolution.targets[0].model == "openai/gpt-oss-20b"


def test_configured_routes_come_first_with_fallbacks() -> None:
    route = Route(
        match="team/*",
        provider="openai",
        model="gpt-4o-mini",
        fallbacks=(Target(provider="anthropic", model="claude-3-5-haiku-latest"),),
    )
    config = Config(
        routes=(route, Route(match="openai/gpt-4o-mini", provider="mistral", model="mistral-small"))
    )
    router = Router(config)
    team = router.resolve("team/chat-default")
    assert team is not None
    assert [(t.provider, t.model) for t in team.targets] == [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku-latest"),
    ]
    override = router.resolve("openai/gpt-4o-mini")
    assert override is not None and override.targets[0].provider == "mistral"


def test_pool_globs_route_before_builtins() -> None:
    config = Config(
        pools=(Pool(name="gpu-b", urls=("http://w:8000",), models=("openai/gpt-4o-*",), model="served"),)
    )
    resolution = Router(config).resolve("openai/gpt-4o-mini")
    assert resolution is not None and resolution.targets[0].pool == "gpu-b"
    assert resolution.targets[0].model == "served"
