"""The requests Claude Code 2.1.328 really sends (captured from the npm package against a
capture server, secrets removed: tests/fixtures/anthropic-surface/), through a real gateway
to each fake vendor: accepted as sent, and translated for each vendor."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from adapters.anthropic.request import to_anthropic_body
from adapters.cohere.request import to_cohere_body
from adapters.gemini.request import to_gemini_body
from adapters.mistral.request import to_mistral_body
from adapters.openai.request import Dialect, to_openai_body
from proxy.surfaces.anthropic.decode import to_chat_request
from schemas.anthropic_surface import MessagesBody
from schemas.chat import ChatRequest, Reasoning, SystemMessage, ToolMessage
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import VENDOR_KEY, Vendors, gateway_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "anthropic-surface"
HELLO = "claude-code-2.1.328-hello.json"
TOOL_RESULT = "claude-code-2.1.328-tool-result.json"
ROUTES = '[[routes]]\nmatch = "claude-*"\nprovider = "anthropic"\n'


def captured(name: str) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.json.decode((FIXTURES / name).read_bytes())
    return value


def decoded(name: str) -> ChatRequest:
    capture = captured(name)
    body = capture["body"]
    return to_chat_request(
        body["model"], msgspec.convert(body, MessagesBody), body, capture["headers"]["anthropic-beta"]
    )


@pytest.fixture(scope="module")
def claude_gateway(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    server, running = start_gateway(
        tmp_path_factory.mktemp("claude"), vendors.environ, gateway_config(ROUTES)
    )
    yield running
    server.stop()


@pytest.fixture
def gateway(claude_gateway: RunningGateway, vendors: Vendors) -> RunningGateway:
    vendors.clear()
    return claude_gateway


def send(gateway: RunningGateway, name: str, model: str | None = None, **changes: Any) -> httpx.Response:
    """The captured request as Claude Code sent it (path, headers, body), with our key."""
    capture = captured(name)
    body = copy.deepcopy(capture["body"])
    body["model"] = model or body["model"]
    body.update(changes)
    headers = {**capture["headers"], "x-api-key": gateway.key, "Provider-Key": VENDOR_KEY}
    headers.pop("Accept-Encoding", None)
    return httpx.post(gateway.url + capture["path"], headers=headers, json=body, timeout=20)


# -- decoding --------------------------------------------------------------------------


def test_the_capture_decodes_into_the_unified_request() -> None:
    request = decoded(HELLO)
    top, inline = request.messages[0], request.messages[2]
    assert isinstance(top, SystemMessage) and top.inline is not True
    assert isinstance(inline, SystemMessage) and inline.inline is True
    assert request.reasoning == Reasoning(enabled=True, effort="medium", summary="none")
    assert (
        request.anthropic_betas is not msgspec.UNSET
        and "context-management-2025-06-27" in request.anthropic_betas
    )
    own = request.vendor_extra["anthropic"]
    assert own["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    assert "metadata" in own and "thinking" not in own and "output_config" not in own
    deferred = [tool for tool in request.tools or [] if tool.vendor_extra]
    assert [tool.vendor_extra for tool in deferred] == [{"anthropic": {"defer_loading": True}}]


def test_a_failed_tool_result_keeps_is_error() -> None:
    results = [m for m in decoded(TOOL_RESULT).messages if isinstance(m, ToolMessage)]
    assert len(results) == 1 and results[0].is_error is True


def test_a_malformed_known_field_is_still_refused(gateway: RunningGateway) -> None:
    for changes in (
        {"thinking": {"type": "adaptive", "display": "loud"}},
        {"output_config": {"effort": 3}},
        {"context_management": {"edits": "all"}},
    ):
        answer = send(gateway, HELLO, **changes)
        assert answer.status_code == 400, changes
        assert answer.json()["type"] == "error"


# -- through the gateway -----------------------------------------------------------------


@pytest.mark.parametrize("name", [HELLO, TOOL_RESULT])
def test_anthropic_receives_what_claude_code_sent(
    gateway: RunningGateway, fakes: dict[str, FakeVendor], name: str
) -> None:
    answer = send(gateway, name)
    assert answer.status_code == 200, answer.text
    assert answer.text.count("event: message_stop") == 1
    sent = captured(name)
    received = fakes["anthropic"].last
    assert received.headers["anthropic-beta"] == sent["headers"]["anthropic-beta"]
    body = received.json()
    original = sent["body"]
    assert body["system"] == original["system"]
    assert body["messages"] == original["messages"]
    for field in ("thinking", "output_config", "context_management", "metadata", "max_tokens"):
        assert body[field] == original[field], field
    assert body["tools"] == original["tools"]
    assert not answer.headers.get("unigate-warnings")


def test_unknown_fields_reach_anthropic_and_not_openai(
    gateway: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    newer = {"future_knob": {"level": 2}}
    assert send(gateway, HELLO, **newer).status_code == 200
    assert fakes["anthropic"].last.json()["future_knob"] == {"level": 2}
    assert send(gateway, HELLO, model="openai/gpt-4.1-mini", **newer).status_code == 200
    assert "future_knob" not in fakes["openai"].last.json()


@pytest.mark.parametrize("name", [HELLO, TOOL_RESULT])
def test_openai_receives_a_translation(
    gateway: RunningGateway, fakes: dict[str, FakeVendor], name: str
) -> None:
    answer = send(gateway, name, model="openai/gpt-4.1-mini")
    assert answer.status_code == 200, answer.text
    received = fakes["openai"].last
    assert not any(header.lower() == "anthropic-beta" for header in received.headers)
    body = received.json()
    roles = [message["role"] for message in body["messages"]]
    assert roles[0] == "system" and roles[2] == "system"
    assert body["reasoning_effort"] == "medium"
    for field in ("thinking", "output_config", "context_management", "metadata"):
        assert field not in body
    if name == TOOL_RESULT:
        assert roles[-1] == "tool" and body["messages"][-1]["content"].startswith("<tool_use_error>")


# -- translation per vendor --------------------------------------------------------------


def test_gemini_folds_the_system_turns_in_order_and_thinks_at_the_level() -> None:
    warnings: list[str] = []
    body = to_gemini_body(decoded(HELLO), warnings)
    texts = [part["text"] for part in body["systemInstruction"]["parts"]]
    assert texts[-1].startswith("# Environment") and texts[0].startswith("x-anthropic-billing-header")
    assert all(turn["role"] in ("user", "model") for turn in body["contents"])
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "MEDIUM", "includeThoughts": False}
    assert any("context_management" in warning and "gemini" in warning for warning in warnings)
    assert any("defer_loading" in warning for warning in warnings)
    assert any("anthropic-beta" in warning for warning in warnings)


def test_cohere_turns_thinking_on_and_says_what_it_lacks() -> None:
    warnings: list[str] = []
    body = to_cohere_body(decoded(TOOL_RESULT), "command-a-03-2025", warnings)
    assert body["thinking"] == {"type": "enabled"}
    assert [m["role"] for m in body["messages"]][:3] == ["system", "user", "system"]
    assert any("reasoning effort" in warning for warning in warnings)
    assert any("is_error" in warning for warning in warnings)
    assert "context_management" not in body and "metadata" not in body


def test_mistral_and_openai_send_the_effort() -> None:
    request = decoded(HELLO)
    warnings: list[str] = []
    assert to_mistral_body(request, "mistral-small-latest", warnings)["reasoning_effort"] == "medium"
    openai_body = to_openai_body(request, "gpt-4.1-mini", Dialect(), [])
    assert openai_body["reasoning_effort"] == "medium"
    assert not any("defer_loading" in str(tool) for tool in openai_body["tools"])


def test_anthropic_body_is_the_capture() -> None:
    capture = captured(HELLO)["body"]
    body = to_anthropic_body(decoded(HELLO), capture["model"], [])
    for field in (
        "system",
        "messages",
        "tools",
        "thinking",
        "output_config",
        "context_management",
        "max_tokens",
    ):
        assert body[field] == capture[field], field
