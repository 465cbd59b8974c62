"""A Responses request routed to OpenAI goes to OpenAI's own `/responses`: built-in tools,
their call items and annotations, reasoning items and encrypted content survive; usage is
billed like chat; the gateway still keeps the conversation, so the next turn may go to
another vendor, or to OpenAI again, which then gets the whole conversation (it is asked
with `store: false`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import responses_answer
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import MODELS, PRICES, VENDOR_KEY, ledger_rows, openai_client

OPENAI = MODELS["openai"]
WEB_SEARCH = {"type": "web_search_preview"}


def _post(gateway: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gateway.key}", "Provider-Key": VENDOR_KEY}
    return httpx.post(f"{gateway.url}/v1/responses", json=body, headers=headers, timeout=10)


def _events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


def test_a_built_in_tool_reaches_openai_and_its_items_come_back(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    answer = _post(running, {"model": OPENAI, "input": "News?", "tools": [WEB_SEARCH]})
    assert answer.status_code == 200, answer.text
    assert "unigate-warnings" not in answer.headers
    sent = fakes["openai"].last
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    body = sent.json()
    assert body["model"] == "gpt-4.1-mini"  # the route's upstream name
    assert body["tools"] == [WEB_SEARCH]
    assert body["store"] is False
    assert "previous_response_id" not in body
    ours = answer.json()
    spec = responses_answer("web-search.json")
    assert [item["type"] for item in ours["output"]] == ["web_search_call", "message"]
    assert ours["output"] == spec["output"]  # annotations and all, unchanged
    assert ours["id"] == f"resp_{answer.headers['x-request-id']}"
    assert ours["model"] == OPENAI


def test_a_streamed_built_in_tool_passes_every_event_on(running: RunningGateway) -> None:
    with httpx.stream(
        "POST",
        f"{running.url}/v1/responses",
        json={"model": OPENAI, "input": "News?", "tools": [WEB_SEARCH], "stream": True},
        headers={"Authorization": f"Bearer {running.key}", "Provider-Key": VENDOR_KEY},
        timeout=10,
    ) as streamed:
        raw = "".join(streamed.iter_text())
    events = _events(raw)
    kinds = [event["type"] for event in events]
    assert "response.web_search_call.searching" in kinds
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["web_search_call", "message"]
    assert final["output"][1]["content"][0]["annotations"][0]["type"] == "url_citation"
    assert final["id"] == events[0]["response"]["id"] == f"resp_{streamed.headers['x-request-id']}"
    assert final["usage"]["cost"] is not None


def test_usage_is_billed_like_chat(running: RunningGateway) -> None:
    answer = _post(running, {"model": OPENAI, "input": "Hello"})
    usage = answer.json()["usage"]
    spec = responses_answer("text.json")["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (spec["input_tokens"], spec["output_tokens"])
    price_in, price_out = PRICES[OPENAI]
    expected = (spec["input_tokens"] * price_in + spec["output_tokens"] * price_out) / 1_000_000
    assert usage["cost"] == pytest.approx(expected, rel=1e-9)
    [row] = ledger_rows(running, answer.headers["x-request-id"])
    assert (row["provider"], row["status"]) == ("openai", "completed")
    assert (row["input_tokens"], row["output_tokens"]) == (spec["input_tokens"], spec["output_tokens"])
    assert row["cost"] == pytest.approx(expected, rel=1e-9)


def test_encrypted_reasoning_goes_back_to_openai_and_stays_hidden_unless_included(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    spec = responses_answer("reasoning.json")
    opaque = spec["output"][0]["encrypted_content"]
    first = _post(running, {"model": OPENAI, "input": "Woodchuck?", "reasoning": {"effort": "high"}})
    assert first.status_code == 200, first.text
    shown = first.json()["output"][0]
    assert shown["type"] == "reasoning"
    assert "encrypted_content" not in shown  # not asked for
    assert "reasoning.encrypted_content" in fakes["openai"].last.json()["include"]
    included = _post(
        running,
        {
            "model": OPENAI,
            "input": "Woodchuck?",
            "reasoning": {"effort": "high"},
            "include": ["reasoning.encrypted_content"],
        },
    )
    assert included.json()["output"][0]["encrypted_content"] == opaque
    second = _post(
        running, {"model": OPENAI, "input": "And a beaver?", "previous_response_id": first.json()["id"]}
    )
    assert second.status_code == 200, second.text
    assert second.json()["previous_response_id"] == first.json()["id"]
    body = fakes["openai"].last.json()
    assert "previous_response_id" not in body  # ours, resolved: OpenAI gets the conversation
    kinds = [item.get("type") for item in body["input"]]
    assert kinds == ["message", "reasoning", "message", "message"]
    assert body["input"][0]["content"] == "Woodchuck?"
    assert body["input"][1]["encrypted_content"] == opaque
    assert body["input"][3]["content"] == "And a beaver?"


def test_the_next_turn_may_go_to_another_vendor(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    first = _post(running, {"model": OPENAI, "input": "News?", "tools": [WEB_SEARCH]})
    second = _post(
        running,
        {"model": MODELS["anthropic"], "input": "Summarise it.", "previous_response_id": first.json()["id"]},
    )
    assert second.status_code == 200, second.text
    warnings = json.loads(second.headers["unigate-warnings"])
    assert any("web_search_call" in warning for warning in warnings)
    sent = fakes["anthropic"].last.json()
    assert [message["role"] for message in sent["messages"]] == ["user", "assistant", "user"]
    assert "As of today, March 9, 2025" in json.dumps(sent["messages"][1])


def test_reasoning_another_vendor_signed_is_left_out_for_openai(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with (
        openai_client(running) as client,
        client.responses.stream(
            model=MODELS["anthropic"],
            input="27 * 453?",
            reasoning={"effort": "low", "summary": "auto"},
            include=["reasoning.encrypted_content"],
        ) as stream,
    ):
        list(stream)
        first = stream.get_final_response()
    signed = [item for item in first.output if item.type == "reasoning"]
    assert signed and signed[0].encrypted_content, "the Anthropic fake's answer has no signed thinking"
    second = _post(running, {"model": OPENAI, "input": "Check it.", "previous_response_id": first.id})
    assert second.status_code == 200, second.text
    assert any("reasoning" in warning for warning in json.loads(second.headers["unigate-warnings"]))
    body = fakes["openai"].last.json()
    assert "reasoning" not in [item.get("type") for item in body["input"]]
    assert signed[0].encrypted_content not in json.dumps(body)
