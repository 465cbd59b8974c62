"""Capabilities used before the call: what a model cannot take is refused (or, for
max_tokens, clamped with a warning) before any vendor is called and billed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.surfaces.conftest import RETRY_ONCE, VENDOR_KEY, Vendors

CATALOGUE = """
version = 1
[models."openai/gpt-4.1-mini"]
task = "chat"
source = "https://example.com/pricing"
read = 2026-01-02
max_output = 100
capabilities = ["json_schema"]
price = { input = 0.4, output = 1.6 }

[models."anthropic/claude-haiku-4-5"]
task = "chat"
source = "https://example.com/pricing"
read = 2026-01-02
capabilities = ["tools", "vision"]
price = { input = 1, output = 5 }
"""
IMAGE = {"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def limited(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory: Path = tmp_path_factory.mktemp("capabilities")
    (directory / "models.toml").write_text(CATALOGUE)
    config = RETRY_ONCE + f'[catalogue]\nfile = "{directory / "models.toml"}"\n'
    server, running = start_gateway(directory, vendors.environ, config)
    yield running
    server.stop()


def _post(
    running: RunningGateway, model: str, body: dict[str, object], **headers: str
) -> tuple[int, dict[str, object]]:
    with running.client(**{"Provider-Key": VENDOR_KEY, **headers}) as client:
        answer = client.post(f"/models/v2/{model}", json=body)
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, IMAGE]}]}, "vision"),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": [TOOL]}, "tools"),
    ],
    ids=["image", "tools"],
)
def test_what_the_model_cannot_take_is_refused_before_the_vendor_is_called(
    limited: RunningGateway, vendors: Vendors, body: dict[str, object], named: str
) -> None:
    vendors.clear()
    status, answer = _post(limited, "openai/gpt-4.1-mini", body)
    assert status == 400
    assert answer["code"] == "unsupported"
    assert named in str(answer["error"]) and "gpt-4.1-mini" in str(answer["error"])
    assert vendors.fakes["openai"].received == []


def test_a_model_with_the_capability_takes_it(limited: RunningGateway, vendors: Vendors) -> None:
    vendors.clear()
    status, answer = _post(
        limited,
        "anthropic/claude-haiku-4-5",
        {"messages": [{"role": "user", "content": "hi"}], "tools": [TOOL]},
    )
    assert status == 200, answer
    assert len(vendors.fakes["anthropic"].received) == 1


def test_a_fallback_that_can_take_it_answers_instead(limited: RunningGateway, vendors: Vendors) -> None:
    vendors.clear()
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL],
        "fallbacks": ["anthropic/claude-haiku-4-5"],
    }
    # the bare Provider-Key is OpenAI's (the first target's), never Anthropic's: the
    # fallback gets its own key (tests/reliability/test_key_isolation.py)
    status, answer = _post(
        limited, "openai/gpt-4.1-mini", body, **{"Provider-Key-Anthropic": "sk-ant-fallback-key-0001"}
    )
    assert status == 200, answer
    assert vendors.fakes["openai"].received == []
    [received] = vendors.fakes["anthropic"].received
    assert VENDOR_KEY not in str(received.headers)
    assert "sk-ant-fallback-key-0001" in str(received.headers)


def test_max_tokens_above_the_max_output_is_clamped_with_a_warning(
    limited: RunningGateway, vendors: Vendors
) -> None:
    vendors.clear()
    status, answer = _post(
        limited,
        "openai/gpt-4.1-mini",
        {"messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 5000}},
    )
    assert status == 200, answer
    sent = vendors.fakes["openai"].received[0].json()
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 100
    assert any("max_tokens 5000" in warning and "100" in warning for warning in answer["warnings"])  # type: ignore[union-attr]


def test_an_uncatalogued_model_is_never_refused(limited: RunningGateway, vendors: Vendors) -> None:
    vendors.clear()
    status, answer = _post(
        limited,
        "openai/gpt-4o",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, IMAGE]}]},
    )
    assert status == 200, answer


def test_a_vendor_id_the_catalogue_does_not_know_answers_chat_and_known_false(
    limited: RunningGateway,
) -> None:
    with limited.client() as client:
        unknown = client.get("/models/v2/list/models", params={"modelId": "openai/gpt-4o"})
        known = client.get("/models/v2/list/models", params={"modelId": "openai/gpt-4.1-mini"})
        nowhere = client.get("/models/v2/list/models", params={"modelId": "nobody/nothing"})
    assert unknown.json()["output"] == [
        {"modelId": "openai/gpt-4o", "task": "chat", "provider": "openai", "meter": "tokens", "known": False}
    ]
    entry = known.json()["output"][0]
    assert entry["known"] is True and entry["capabilities"] == ["json_schema"] and entry["maxOutput"] == 100
    assert nowhere.status_code == 404
