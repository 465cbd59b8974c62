"""Ledger truth (issue #11, item 5): every authenticated model call leaves exactly one ledger
row, refused ones included — `rate_limited`, `budget_exceeded`, a bad body, an unknown model,
an idempotency conflict — on every surface, with cost 0, status `refused` and the answer's
code; a request without a valid proxy key leaves none. The usage report and the console's
log show the refusals without counting them as calls. Rows read from the real SQLite ledger."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from proxy.accounting.usage import LogFilter, UsageReport
from proxy.storage import sqlite_path
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.server import Reply
from tests.postgres import rows as postgres_rows
from tests.surfaces.conftest import MODELS, VENDOR_KEY, Vendors, gateway_config

UNKNOWN = "nobody/nothing-here"


@dataclass(frozen=True)
class Surface:
    path: Callable[[str], str]
    body: Callable[[str], dict[str, Any]]
    reply: str
    """The fixture the surface's vendor answers with (a slow copy of it holds a run open)."""
    vendor: str = "openai"


SURFACES = {
    "native": Surface(
        lambda model: f"/models/v2/{model}",
        lambda model: {"messages": [{"role": "user", "content": "Hi"}]},
        "openai/chat.json",
    ),
    "openai_chat": Surface(
        lambda model: "/v1/chat/completions",
        lambda model: {"model": model, "messages": [{"role": "user", "content": "Hi"}]},
        "openai/chat.json",
    ),
    "openai_completions": Surface(
        lambda model: "/v1/completions",
        lambda model: {"model": model, "prompt": "Hi", "max_tokens": 16},
        "openai/chat.json",
    ),
    "openai_responses": Surface(
        lambda model: "/v1/responses",
        lambda model: {"model": model, "input": "Hi"},
        "openai/chat.json",
    ),
    "anthropic_messages": Surface(
        lambda model: "/v1/messages",
        lambda model: {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]},
        "anthropic/chat.json",
        vendor="anthropic",
    ),
}


def _send(
    gateway: RunningGateway,
    surface: Surface,
    key: str,
    model: str | None = None,
    raw: bytes | None = None,
    **headers: str,
) -> httpx.Response:
    model = model or MODELS[surface.vendor]
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        all_headers = {
            "Authorization": f"Key {key}",
            "Provider-Key": VENDOR_KEY,
            "anthropic-version": "2023-06-01",
            **headers,
        }
        if raw is not None:
            return client.post(
                surface.path(model), content=raw, headers={**all_headers, "Content-Type": "application/json"}
            )
        return client.post(surface.path(model), json=surface.body(model), headers=all_headers)


def _rows(gateway: RunningGateway, where: str, value: object, count: int) -> list[dict[str, Any]]:
    """The rows matching, once `count` of them are final (the ledger writes from its thread)."""
    deadline = time.monotonic() + 5
    path = sqlite_path(gateway.settings.database_url)
    while True:
        with sqlite3.connect(path) as connection:
            connection.row_factory = sqlite3.Row
            rows = [
                dict(row)
                for row in connection.execute(
                    f"SELECT * FROM usage WHERE {where} = ? ORDER BY started_at",
                    (value,),
                )
            ]
        settled = [row for row in rows if row["status"] != "started"]
        if len(settled) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def _assert_refusal(row: dict[str, Any], code: str, model: str | None, response: httpx.Response) -> None:
    assert (row["status"], row["error_code"], row["model"]) == ("refused", code, model)
    assert (row["cost"], row["input_tokens"], row["output_tokens"], row["attempts"]) == (0, 0, 0, 0)
    assert row["provider"] is None and row["finished_at"] >= row["started_at"]
    assert row["request_id"] == response.headers["x-request-id"]


SURFACE_NAMES = sorted(SURFACES)


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_a_bad_body_and_a_rate_limit_each_leave_a_refused_row(running: RunningGateway, name: str) -> None:
    surface = SURFACES[name]
    record, key = running.gateway.keys.create(f"limited-{name}", rpm=1)
    bad = _send(running, surface, key, raw=b'{"messages": ')
    limited = _send(running, surface, key)
    assert (bad.status_code, limited.status_code) == (400, 429), (bad.text, limited.text)
    rows = _rows(running, "key_id", record.id, 2)
    assert len(rows) == 2, rows
    # the native surface has the model in its path; a compatible one had not read its body
    model = MODELS[surface.vendor] if name == "native" else None
    _assert_refusal(rows[0], "invalid_request", model, bad)
    _assert_refusal(rows[1], "rate_limited", model, limited)


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_a_spent_budget_leaves_a_refused_row(running: RunningGateway, vendors: Vendors, name: str) -> None:
    surface = SURFACES[name]
    record, key = running.gateway.keys.create(f"broke-{name}", budget=0.0)
    response = _send(running, surface, key)
    assert response.status_code == 402, response.text
    rows = _rows(running, "key_id", record.id, 1)
    assert len(rows) == 1, rows
    _assert_refusal(rows[0], "budget_exceeded", MODELS[surface.vendor], response)
    assert vendors.fakes[surface.vendor].received == []


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_an_unknown_model_leaves_a_refused_row(running: RunningGateway, name: str) -> None:
    surface = SURFACES[name]
    record, key = running.gateway.keys.create(f"lost-{name}")
    response = _send(running, surface, key, model=UNKNOWN)
    assert response.status_code == 404, response.text
    rows = _rows(running, "key_id", record.id, 1)
    assert len(rows) == 1, rows
    _assert_refusal(rows[0], "not_found", UNKNOWN, response)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_an_idempotency_conflict_leaves_its_own_row(
    running: RunningGateway, vendors: Vendors, name: str
) -> None:
    surface = SURFACES[name]
    fake = vendors.fakes[surface.vendor]
    fake.enqueue(Reply.fixture(surface.reply, delay=1.0))
    record, key = running.gateway.keys.create(f"twice-{name}")
    header = {"Idempotency-Key": f"conflict-{name}"}
    first: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: first.append(_send(running, surface, key, **header)))
    thread.start()
    deadline = time.monotonic() + 5
    while not fake.received and time.monotonic() < deadline:
        time.sleep(0.01)
    second = _send(running, surface, key, **header)
    thread.join()
    assert first[0].status_code == 200, first[0].text
    assert second.status_code == 409, second.text
    rows = _rows(running, "key_id", record.id, 2)
    assert len(rows) == 2, rows
    by_status = {row["status"]: row for row in rows}
    assert by_status["completed"]["request_id"] == first[0].headers["x-request-id"]
    _assert_refusal(by_status["refused"], "idempotency_conflict", MODELS[surface.vendor], second)
    assert second.headers["x-request-id"] != first[0].headers["x-request-id"]  # never the key's id


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_a_request_without_a_valid_key_leaves_no_row(running: RunningGateway, name: str) -> None:
    surface = SURFACES[name]
    response = _send(running, surface, "ug-not-a-key-at-all")
    assert response.status_code == 401
    assert _rows(running, "request_id", response.headers["x-request-id"], 1) == []


def test_a_call_and_a_refusal_leave_one_row_each(running: RunningGateway) -> None:
    record, key = running.gateway.keys.create("one-each")
    ok = _send(running, SURFACES["openai_chat"], key)
    lost = _send(running, SURFACES["openai_chat"], key, model=UNKNOWN)
    assert (ok.status_code, lost.status_code) == (200, 404)
    rows = _rows(running, "key_id", record.id, 2)
    assert [(row["status"], row["request_id"]) for row in rows] == [
        ("completed", ok.headers["x-request-id"]),
        ("refused", lost.headers["x-request-id"]),
    ]


def test_usage_counts_refusals_apart_from_calls(running: RunningGateway) -> None:
    record, key = running.gateway.keys.create("counted", rpm=2)
    assert _send(running, SURFACES["native"], key).status_code == 200
    assert _send(running, SURFACES["native"], key, model=UNKNOWN).status_code == 404
    assert _send(running, SURFACES["native"], key).status_code == 429
    _rows(running, "key_id", record.id, 3)
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Key {key}"}, timeout=10) as client:
        usage = client.get("/v1/usage").json()
    assert usage["requests"] == 1 and usage["cost"] > 0
    assert usage["refused"] == 2
    assert usage["refused_by_code"] == {"not_found": 1, "rate_limited": 1}
    assert usage["by_status"] == {"completed": 1, "refused": 2}
    series = _series(running)  # what the console's usage chart and log read
    mine = [point for point in series if point["group"] == record.id]
    assert sum(point["requests"] for point in mine) == 1
    assert sum(point["refused"] for point in mine) == 2


def _series(running: RunningGateway) -> list[dict[str, Any]]:
    report = UsageReport(running.settings.database_url)
    try:
        until = time.time() + 1
        series = asyncio.run(report.series(until - 3600, until, "key"))
        log = asyncio.run(report.log(LogFilter(status="refused")))
    finally:
        report.close()
    assert {row.error_code for row in log} >= {"not_found", "rate_limited"}
    assert all(row.cost == 0 for row in log)
    return [
        {"group": point.group, "requests": point.requests, "refused": point.refused}
        for point in series.points
    ]


def test_refusal_rows_on_postgres(
    vendors: Vendors, tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> None:
    """The same rows with the ledger on Postgres (several replicas' setup)."""
    environ = {**vendors.environ, "UNIGATE_DATABASE_URL": postgres_url}
    server, gateway = start_gateway(tmp_path_factory.mktemp("refusals-pg"), environ, gateway_config())
    try:
        record, key = gateway.gateway.keys.create("pg", rpm=1)
        lost = _send(gateway, SURFACES["anthropic_messages"], key, model=UNKNOWN)
        limited = _send(gateway, SURFACES["openai_chat"], key)
        assert (lost.status_code, limited.status_code) == (404, 429)
        deadline = time.monotonic() + 5
        while len(found := postgres_rows(postgres_url)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    assert [
        (row["key_id"], row["status"], row["error_code"], row["model"], row["cost"]) for row in found
    ] == [
        (record.id, "refused", "not_found", UNKNOWN, 0),
        (record.id, "refused", "rate_limited", None, 0),
    ]
    assert [row["request_id"] for row in found] == [
        lost.headers["x-request-id"],
        limited.headers["x-request-id"],
    ]
