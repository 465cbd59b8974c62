"""The Responses API's refusals: clear 400/404s with stable codes, nothing sent or stored;
built-in tools dropped with a warning or refused when forced; a cut stream ends failed."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import openai
import pytest

from proxy.storage import sqlite_path
from tests.conftest import RunningGateway
from tests.fakes.openai import RESPONSES_MID_STREAM_ERROR, responses_stream_text
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, openai_client


def _stored(gateway: RunningGateway) -> int:
    with sqlite3.connect(sqlite_path(gateway.settings.database_url)) as connection:
        count: int = connection.execute("SELECT count(*) FROM responses").fetchone()[0]
    return count


def _post(gateway: RunningGateway, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or gateway.key}", "Provider-Key": VENDOR_KEY}
    return httpx.post(f"{gateway.url}/v1/responses", json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        ([{"type": "telepathy", "content": "x"}], "unknown item type 'telepathy'"),
        ([{"type": "function_call_output", "call_id": "call_9", "output": "42"}], "call_9"),
        ([{"type": "item_reference", "id": "msg_nowhere"}], "msg_nowhere"),
        ([{"type": "message", "role": "robot", "content": "x"}], "input[0]"),
    ],
)
def test_bad_items_are_refused_and_nothing_is_stored(
    running: RunningGateway, fakes: dict[str, FakeVendor], items: list[dict[str, Any]], needle: str
) -> None:
    before = _stored(running)
    answer = _post(running, {"model": MODELS["anthropic"], "input": items})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert needle in error["message"]
    assert not fakes["anthropic"].received
    assert _stored(running) == before


def test_unknown_other_keys_and_expired_previous_ids_are_not_found(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        created = client.responses.create(model=MODELS["openai"], input="Hello")
    _, other_key = running.gateway.keys.create("responses-other")
    fakes["openai"].clear()
    for key, previous in ((None, "resp_nope"), (other_key, created.id)):
        answer = _post(
            running, {"model": MODELS["openai"], "input": "hi", "previous_response_id": previous}, key
        )
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    other = httpx.get(
        f"{running.url}/v1/responses/{created.id}",
        headers={"Authorization": f"Bearer {other_key}"},
        timeout=10,
    )
    assert other.status_code == 404
    with sqlite3.connect(sqlite_path(running.settings.database_url)) as connection:
        connection.execute("UPDATE responses SET created_at = 0 WHERE id = ?", (created.id,))
    expired = _post(running, {"model": MODELS["openai"], "input": "hi", "previous_response_id": created.id})
    assert expired.status_code == 404
    assert not fakes["openai"].received


def test_store_false_keeps_nothing(running: RunningGateway) -> None:
    with openai_client(running) as client:
        created = client.responses.create(model=MODELS["gemini"], input="Hello", store=False)
        assert created.store is False
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)


def test_built_in_tool_is_dropped_with_a_warning_or_refused_when_forced(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    body = {"model": MODELS["anthropic"], "input": "news?", "tools": [{"type": "web_search"}]}
    answer = _post(running, body)
    assert answer.status_code == 200
    assert "x-unigate-warnings" not in answer.headers
    warnings = json.loads(answer.headers["unigate-warnings"])
    assert any("web_search" in warning for warning in warnings)
    streamed = _post(running, {**body, "stream": True})
    assert streamed.status_code == 200
    assert any("web_search" in warning for warning in json.loads(streamed.headers["unigate-warnings"]))
    assert "tools" not in fakes["anthropic"].last.json()
    fakes["anthropic"].clear()
    forced = _post(running, {**body, "tool_choice": {"type": "web_search"}})
    assert forced.status_code == 400
    assert forced.json()["error"]["code"] == "unsupported"
    assert "web_search" in forced.json()["error"]["message"]
    assert not fakes["anthropic"].received


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_cut_stream_ends_failed_never_completed(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    # OpenAI serves a Responses request from its own /responses, which fails its own way
    mid_stream = RESPONSES_MID_STREAM_ERROR if vendor == "openai" else KITS[vendor].mid_stream_error
    assert mid_stream is not None
    fakes[vendor].enqueue(mid_stream)
    with openai_client(running) as client:
        events = list(client.responses.create(model=MODELS[vendor], input="Hello", stream=True))
    kinds = [event.type for event in events]
    assert "response.completed" not in kinds
    assert kinds[-2:] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and (responses_stream_text() if vendor == "openai" else KITS[vendor].text).startswith(text)


def test_reasoning_signature_round_trips_through_include(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    """Anthropic's thinking signature comes back as encrypted_content and reaches Anthropic again."""
    model = MODELS["anthropic"]
    with openai_client(running) as client:
        first = client.responses.create(
            model=model,
            input="27 * 453?",
            reasoning={"effort": "low", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            stream=True,
        )
        events = list(first)
    sent = fakes["anthropic"].last.json()
    assert sent["thinking"]["type"] == "adaptive"  # the unified reasoning, as the adapter maps it
    assert sent["thinking"]["display"] == "summarized"
    assert sent["output_config"]["effort"] == "low"
    final = events[-1]
    assert final.type == "response.completed"
    reasoning = [item for item in final.response.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content
    assert "27 * 453" in reasoning[0].summary[0].text
    with openai_client(running) as client:
        client.responses.create(
            model=model,
            input=[
                *[item.model_dump(exclude_none=True) for item in final.response.output],
                {"role": "user", "content": "thanks"},
            ],
        )
    sent = fakes["anthropic"].last.json()["messages"]
    assert sent[0]["role"] == "assistant"
    assert sent[0]["content"][0]["type"] == "thinking"
    assert sent[0]["content"][0]["signature"].startswith("EqQB")
