"""C6: a client that retries with the same `Idempotency-Key` leaves one ledger row, holding
every run's usage; a retry while a run still holds the row is a 409, and keys never share."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    BODY,
    OPENAI_ONLY,
    client,
    config,
    ledger,
    openai_stream,
    stream,
    wait_for,
)

IDEMPOTENCY = {"Idempotency-Key": "order-42-summary"}


def _post(gateway: Any, headers: dict[str, str], path: str = OPENAI_ONLY) -> httpx.Response:
    with client(gateway) as http:
        return http.post(path, json=BODY, headers=headers)


@pytest.mark.timeout(30)
def test_a_retry_after_a_disconnect_completes_the_same_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(openai_stream(60, event_delay=0.05), openai_stream(5))
    cut = stream(gateway, OPENAI_ONLY, headers=IDEMPOTENCY, stop=lambda seen: "text_delta" in seen.kinds)
    assert cut.status == 200
    first = ledger(gateway)
    assert [row["status"] for row in first] == ["client_disconnected"]
    cut_tokens = first[0]["output_tokens"]
    assert cut_tokens > 0  # counted so far (C1)

    retry = stream(gateway, OPENAI_ONLY, headers=IDEMPOTENCY)
    assert retry.status == 200
    assert retry.kinds[-1] == "done"
    assert retry.headers["x-request-id"] == cut.headers["x-request-id"]
    rows = ledger(gateway)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["request_id"] == retry.headers["x-request-id"]
    assert row["status"] == "completed"
    assert row["attempts"] == 2
    assert row["input_tokens"] == first[0]["input_tokens"] + 7
    assert row["output_tokens"] == cut_tokens + 20
    assert row["cost"] == pytest.approx(first[0]["cost"] + (7 * 0.15 + 20 * 0.60) / 1e6)
    assert row["started_at"] == first[0]["started_at"]
    assert len(openai_fake.received) == 2  # unigate keeps no answers: the retry ran again


@pytest.mark.timeout(30)
def test_a_retry_while_the_first_run_holds_the_row_is_a_409(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(Reply.fixture("openai/chat.json", delay=1.0))
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(_post(gateway, IDEMPOTENCY)))
    first.start()
    wait_for(lambda: len(openai_fake.received) == 1)
    second = _post(gateway, IDEMPOTENCY)
    first.join()
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "idempotency_conflict"
    assert second.headers["Retry-After"] == "1"
    assert answers[0].status_code == 200
    assert len(openai_fake.received) == 1
    rows = ledger(gateway, count=2)
    assert sorted((row["status"], row["attempts"], row["request_id"]) for row in rows) == [
        ("completed", 1, answers[0].headers["x-request-id"]),
        ("refused", 0, second.headers["x-request-id"]),  # the conflict's own row, its own id
    ]


@pytest.mark.timeout(30)
def test_a_retry_after_a_completed_run_adds_to_the_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    """The client lost the answer (or retried anyway): one row, both runs' tokens and cost,
    whatever surface the retry comes through."""
    gateway = make_gateway(config())
    openai_fake.enqueue(Reply.fixture("openai/chat.json"), Reply.fixture("openai/chat.json"))
    first = _post(gateway, IDEMPOTENCY)
    assert first.status_code == 200
    once = ledger(gateway)[0]
    with client(gateway) as http:
        second = http.post(
            "/v1/chat/completions",
            json={"model": "solo/openai", "messages": [{"role": "user", "content": "Hello"}]},
            headers=IDEMPOTENCY,
        )
    assert second.status_code == 200, second.text
    assert second.headers["x-request-id"] == first.headers["x-request-id"]
    time.sleep(0.2)
    rows = ledger(gateway)
    assert len(rows) == 1
    assert rows[0]["attempts"] == 2
    assert rows[0]["input_tokens"] == 2 * once["input_tokens"]
    assert rows[0]["output_tokens"] == 2 * once["output_tokens"]
    assert rows[0]["cost"] == pytest.approx(2 * once["cost"])


def test_two_keys_with_the_same_idempotency_key_never_share_a_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    assert gateway.gateway is not None
    _, other_key = gateway.gateway.keys.create("other")
    openai_fake.enqueue(Reply.fixture("openai/chat.json"), Reply.fixture("openai/chat.json"))
    mine = _post(gateway, IDEMPOTENCY)
    theirs = _post(gateway, {**IDEMPOTENCY, "Authorization": f"Key {other_key}"})
    assert mine.status_code == theirs.status_code == 200
    assert mine.headers["x-request-id"] != theirs.headers["x-request-id"]
    rows = ledger(gateway, count=2)
    assert len(rows) == 2
    assert len({row["key_id"] for row in rows}) == 2


def test_without_the_header_each_request_has_its_own_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(Reply.fixture("openai/chat.json"), Reply.fixture("openai/chat.json"))
    ids = {_post(gateway, {}).headers["x-request-id"] for _ in range(2)}
    assert len(ids) == 2
    assert len(ledger(gateway, count=2)) == 2


@pytest.mark.parametrize("value", ["x" * 256, "caf\u00e9", "tab\there", ""])
def test_a_malformed_idempotency_key_is_a_400_before_any_vendor_call(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, value: str
) -> None:
    gateway = make_gateway(config())
    with client(gateway) as http:
        response = http.post(
            OPENAI_ONLY,
            json=BODY,
            headers={"Idempotency-Key": value.encode("utf-8")},  # type: ignore[dict-item]
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert "Idempotency-Key" in response.json()["error"]
    assert openai_fake.received == []
    rows = ledger(gateway)
    assert [(row["status"], row["error_code"], row["cost"]) for row in rows] == [
        ("refused", "invalid_request", 0)
    ]
