"""D6: a key's spend budget. Concurrent calls cannot overspend it by more than one call's
reserved estimate: the check and the reservation are one transaction with the start row,
also across workers sharing the database; finished calls move their cost into `spent`;
a crashed instance's reservations come back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from proxy.accounting import ledger as ledger_module
from proxy.accounting.budgets import estimate
from proxy.accounting.ledger import BEGIN_WAIT, Ledger
from proxy.accounting.metering import Meter
from proxy.cli import main as cli
from proxy.identity.keys import KeyRecord, KeyStore
from proxy.routing import catalogue_file
from proxy.routing.routes import Resolution, ResolvedTarget
from proxy.storage import sqlite_path
from schemas.chat import ChatRequest, ImagePart, Sampling, TextPart, UserMessage
from schemas.config import BudgetConfig, ModelPrice
from schemas.errors import Code, GatewayError
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.postgres import rows as database_rows
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    BODY,
    KEYS,
    OPENAI_ONLY,
    config,
    ledger,
    openai_stream,
    usage_row,
    wait_for,
)

PRICE = ModelPrice(input=0.15, output=0.60)
PER_CALL = (10 * 0.15 + 50 * 0.60) / 1e6
"""BODY's estimate on solo/openai: "Hello" is 5 bytes -> 2 tokens, + 8 for the message; 50 out."""
ACTUAL = (19 * 0.15 + 10 * 0.60) / 1e6
"""What the fake's openai/chat.json answer costs (19 in, 10 out)."""


def _request(text: str = "Hello", max_tokens: int | None = 50) -> ChatRequest:
    sampling = Sampling(max_tokens=max_tokens) if max_tokens is not None else Sampling()
    return ChatRequest(model="m", messages=[UserMessage(content=text)], sampling=sampling)


def _resolution(*targets: ResolvedTarget) -> Resolution:
    return Resolution("solo/openai", "chat", targets)


OPENAI = ResolvedTarget("openai", None, "gpt-4o-mini")


# -- the estimate ---------------------------------------------------------------------------------


def test_the_estimate_is_input_by_bytes_plus_max_tokens_at_the_price() -> None:
    meter = Meter({"solo/openai": PRICE}, {})
    assert estimate(_request(), _resolution(OPENAI), meter, BudgetConfig(), {}) == pytest.approx(PER_CALL)
    no_cap = estimate(
        _request(max_tokens=None), _resolution(OPENAI), meter, BudgetConfig(output_tokens=1000), {}
    )
    assert no_cap == pytest.approx((10 * 0.15 + 1000 * 0.60) / 1e6)
    long = estimate(_request("é" * 300), _resolution(OPENAI), meter, BudgetConfig(), {})
    assert long == pytest.approx(((200 + 8) * 0.15 + 50 * 0.60) / 1e6)  # 600 bytes / 3
    with_image = _request()
    with_image.messages = [UserMessage(content=[TextPart(text="Hello"), ImagePart(url="https://x/a.png")])]
    assert estimate(with_image, _resolution(OPENAI), meter, BudgetConfig(), {}) == pytest.approx(
        ((2 + 8 + 2000) * 0.15 + 50 * 0.60) / 1e6
    )


def test_the_estimate_takes_the_dearest_target_and_pool_seconds() -> None:
    dear = ResolvedTarget("anthropic", None, "claude")
    pool = ResolvedTarget(None, "gpu", "llama")
    by_target = Meter(
        {"anthropic/claude": ModelPrice(input=3.0, output=15.0), "openai/gpt-4o-mini": PRICE}, {}
    )
    both = estimate(_request(), Resolution("x", "chat", (OPENAI, dear)), by_target, BudgetConfig(), {})
    assert both == pytest.approx((10 * 3.0 + 50 * 15.0) / 1e6)
    meter = Meter({}, {"LLM-SM": 0.001})
    on_pool = estimate(_request(), _resolution(pool), meter, BudgetConfig(pool_seconds=30), {"gpu": "LLM-SM"})
    assert on_pool == pytest.approx(0.03)


def test_a_budgeted_call_to_a_model_without_a_price_is_refused() -> None:
    with pytest.raises(GatewayError) as refused:
        estimate(_request(), _resolution(OPENAI), Meter({}, {}), BudgetConfig(), {})
    assert refused.value.status == 403
    assert "no configured price" in refused.value.message


def test_the_estimate_reads_the_catalogue_price_long_context_tier_included() -> None:
    catalogue = catalogue_file.load()
    sonnet = catalogue.get("anthropic/claude-sonnet-4-5")
    assert sonnet is not None and sonnet.price is not None and sonnet.price.tiers
    meter = Meter({}, {}, catalogue)
    target = ResolvedTarget("anthropic", None, "claude-sonnet-4-5-20250929")
    short = estimate(_request(), _resolution(target), meter, BudgetConfig(), {})
    base = sonnet.price
    assert base.input is not None and base.output is not None
    assert short == pytest.approx((10 * float(base.input) + 50 * float(base.output)) / 1e6)
    tier = base.tiers[0]
    long_text = "a" * (3 * (tier.above + 1))  # an estimate of just over the tier's input tokens
    assert tier.input is not None and tier.output is not None
    long = estimate(_request(long_text), _resolution(target), meter, BudgetConfig(), {})
    tokens = tier.above + 1 + 8
    assert long == pytest.approx((tokens * float(tier.input) + 50 * float(tier.output)) / 1e6)


# -- through the gateway ------------------------------------------------------------------------------


def _budgeted(gateway: RunningGateway, budget: float) -> tuple[str, str]:
    assert gateway.gateway is not None
    record, key = gateway.gateway.keys.create("budgeted", budget=budget)
    return record.id, key


def _call(gateway: RunningGateway, key: str, barrier: threading.Barrier | None = None) -> httpx.Response:
    with httpx.Client(base_url=gateway.url, timeout=15) as http:
        if barrier is not None:
            barrier.wait()
        return http.post(OPENAI_ONLY, json=BODY, headers={"Authorization": f"Key {key}", **KEYS})


def _figures(gateway: RunningGateway, key_id: str) -> tuple[float, float]:
    query = f"SELECT spent, reserved FROM keys WHERE id = '{key_id}'"
    [row] = database_rows(gateway.settings.database_url, query)
    return row["spent"], row["reserved"]


def _concurrent(
    gateways: list[RunningGateway], key: str, count: int, vendor: FakeVendor, hold: threading.Event, room: int
) -> list[httpx.Response]:
    """`count` calls at once; the vendor answers none (`hold`) until every call was decided:
    `room` reached it and the rest were refused (or more reached it than there is room for,
    the failure itself). A call that came late, after others were settled, would see their
    costs spent instead of their estimates held, and would test something else."""
    barrier = threading.Barrier(count)
    with ThreadPoolExecutor(count) as pool:
        calls = [pool.submit(_call, gateways[n % len(gateways)], key, barrier) for n in range(count)]
        try:
            wait_for(
                lambda: (
                    len(vendor.received) > room
                    or (len(vendor.received) == room and sum(call.done() for call in calls) == count - room)
                ),
                timeout=30,
            )
        finally:
            hold.set()  # also when the calls were not decided in time: they end, the test fails
        return [call.result() for call in calls]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("workers", "database"), [(1, "sqlite"), (2, "sqlite"), (2, "postgres")])
def test_concurrent_calls_take_exactly_what_the_budget_holds(
    make_gateway: GatewayFactory,
    openai_fake: FakeVendor,
    request: pytest.FixtureRequest,
    workers: int,
    database: str,
) -> None:
    """Budget for 3 calls and a half; 6 arrive at once, split over `workers` gateways sharing
    one database (each its own ledger writer; on Postgres, replicas): exactly 3 reach the vendor."""
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    gateways = [make_gateway(config(attempts=1), database_url=url) for _ in range(workers)]
    key_id, key = _budgeted(gateways[0], 3.5 * PER_CALL)
    hold = threading.Event()
    openai_fake.enqueue(*[Reply.fixture("openai/chat.json", hold=hold) for _ in range(6)])
    responses = _concurrent(gateways, key, 6, openai_fake, hold, room=3)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 3 + [402] * 3, [response.text for response in responses]
    refused = next(response for response in responses if response.status_code == 402)
    assert refused.json()["code"] == "budget_exceeded"
    assert "held by calls in flight" in refused.json()["error"]
    assert len(openai_fake.received) == 3
    rows = ledger(gateways[0], count=6)
    assert sorted((row["status"], row["error_code"], row["cost"] or 0) for row in rows) == [
        *[("completed", None, pytest.approx(ACTUAL))] * 3,
        *[("refused", "budget_exceeded", 0)] * 3,  # each refusal leaves its row, at no cost
    ]
    spent, reserved = _figures(gateways[0], key_id)
    assert spent == pytest.approx(3 * ACTUAL)
    assert reserved == pytest.approx(0.0, abs=1e-15)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_budgeted_call_waits_for_its_reservation_while_the_database_is_locked(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, request: pytest.FixtureRequest, database: str
) -> None:
    """The ledger's writer cannot decide a reservation while another session holds the
    database (SQLite) or the key's row (Postgres) past `BEGIN_WAIT`: an unbudgeted call goes
    on without its start row, a budgeted one must not, or calls slip past the budget."""
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    gateway = make_gateway(config(attempts=1), database_url=url)
    key_id, key = _budgeted(gateway, 1.5 * PER_CALL)
    openai_fake.enqueue(*[Reply.fixture("openai/chat.json") for _ in range(3)])
    held = BEGIN_WAIT + 1.5
    with _locked(gateway.settings.database_url, key_id, held):
        started = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: _call(gateway, key), range(3)))
        waited = time.monotonic() - started
    assert sorted(answer.status_code for answer in answers) == [200, 402, 402], [a.text for a in answers]
    assert len(openai_fake.received) == 1
    assert waited >= held - 0.5, "the calls were decided while the key was locked"
    ledger(gateway, count=3)
    spent, reserved = _figures(gateway, key_id)
    assert spent == pytest.approx(ACTUAL)
    assert reserved == pytest.approx(0.0, abs=1e-15)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_request_that_leaves_while_its_reservation_waits_holds_nothing(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    """Cancelled while the database is locked: on SQLite the writer has not begun its
    transaction, so the reservation is withdrawn and nothing is written; on Postgres the
    writer's transaction already waits on the key's row, so the reservation commits and the
    final row queued behind it releases it. Either way the key holds nothing after."""
    url, keys, record, ledger_ = _budgeted_ledger(tmp_path, request, database)

    async def leave() -> None:
        row = usage_row("gone", "started")
        row.key_id = record.id
        waiting = asyncio.ensure_future(ledger_.begin(row, reserve=0.4))
        await asyncio.sleep(BEGIN_WAIT + 0.5)
        assert not waiting.done(), "a budgeted start waits for its reservation"
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    try:
        with _locked(url, record.id, BEGIN_WAIT + 1.5):
            asyncio.run(leave())
    finally:
        ledger_.close()
    after = keys.get(record.id)
    assert after is not None and (after.spent, after.reserved) == (0.0, 0.0)
    rows = database_rows(url)
    expected = [] if database == "sqlite" else [("client_disconnected", 0.0)]
    assert [(row["status"], row["reserved"]) for row in rows] == expected
    keys.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_reservation_the_database_cannot_decide_is_refused_in_time(
    tmp_path: Path, request: pytest.FixtureRequest, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that takes no writes for `RESERVE_WAIT` refuses the budgeted call (503
    `ledger_unavailable`) instead of holding it for ever; once the database is back the key
    holds nothing: on SQLite the reservation was withdrawn before the writer took it, on
    Postgres the writer's transaction committed it and the refusal's final row released it."""
    monkeypatch.setattr(ledger_module, "RESERVE_WAIT", BEGIN_WAIT + 1.0)
    url, keys, record, ledger_ = _budgeted_ledger(tmp_path, request, database)

    async def refused() -> GatewayError:
        row = usage_row("stuck", "started")
        row.key_id = record.id
        began = time.monotonic()
        with pytest.raises(GatewayError) as caught:
            await ledger_.begin(row, reserve=0.4)
        # refused once the wait ran out, while the database was still locked (a lock let
        # go first would have decided the reservation, and nothing would be raised)
        assert time.monotonic() - began >= BEGIN_WAIT + 0.9
        return caught.value

    try:
        with _locked(url, record.id, BEGIN_WAIT + 3.0):
            error = asyncio.run(refused())
    finally:
        ledger_.close()
    assert error.code == Code.LEDGER_UNAVAILABLE and error.status == 503 and error.retry_after
    after = keys.get(record.id)
    assert after is not None and (after.spent, after.reserved) == (0.0, 0.0)
    rows = database_rows(url)
    expected = [] if database == "sqlite" else [("gateway_error", "ledger_unavailable", 0.0)]
    assert [(row["status"], row["error_code"], row["reserved"]) for row in rows] == expected
    keys.close()


def _budgeted_ledger(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> tuple[str, KeyStore, KeyRecord, Ledger]:
    """A database (SQLite, or the test Postgres), a key with a budget in it, a started ledger."""
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgres"
        else f"sqlite:///{tmp_path / 'l.db'}"
    )
    keys = KeyStore(url)
    record, _ = keys.create("budgeted", budget=1.0)
    ledger_ = Ledger(url)
    ledger_.start()
    return url, keys, record, ledger_


@contextmanager
def _locked(database_url: str, key_id: str, seconds: float) -> Iterator[None]:
    """Another session holds the key's row (Postgres) or the database's write lock (SQLite)
    for `seconds` from the start of the block, then lets go."""
    if database_url.startswith("postgres"):
        connection: Any = psycopg.connect(database_url, autocommit=True)
        connection.execute("BEGIN")
        connection.execute("SELECT budget FROM keys WHERE id = %s FOR UPDATE", (key_id,))
    else:
        connection = sqlite3.connect(
            sqlite_path(database_url), timeout=30, isolation_level=None, check_same_thread=False
        )
        connection.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, lambda: connection.execute("ROLLBACK"))
    release.start()
    try:
        yield
    finally:
        release.join()
        connection.close()


@pytest.mark.timeout(30)
def test_calls_one_after_another_stop_before_the_budget_is_overspent(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1))
    budget = 10 * ACTUAL
    key_id, key = _budgeted(gateway, budget)
    openai_fake.enqueue(*[Reply.fixture("openai/chat.json") for _ in range(20)])
    answered = 0
    for _ in range(20):
        response = _call(gateway, key)
        if response.status_code != 200:
            assert response.status_code == 402
            break
        answered += 1
        ledger(gateway, count=answered)  # settled before the next call is checked
    spent, reserved = _figures(gateway, key_id)
    assert spent <= budget
    assert budget - spent < PER_CALL  # it stopped only when the next call might not fit
    assert answered == len(openai_fake.received)
    assert reserved == pytest.approx(0.0, abs=1e-15)


@pytest.mark.timeout(30)
def test_a_failed_call_releases_its_reservation_and_keys_without_a_budget_pass(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1))
    key_id, key = _budgeted(gateway, 1.2 * PER_CALL)
    openai_fake.enqueue(Reply.json({"error": {"message": "boom", "type": "server_error"}}, status=500))
    assert _call(gateway, key).status_code == 502
    ledger(gateway)
    assert _figures(gateway, key_id) == (0.0, 0.0)
    openai_fake.enqueue(Reply.fixture("openai/chat.json"), Reply.fixture("openai/chat.json"))
    assert _call(gateway, key).status_code == 200  # the whole budget is there again
    assert _call(gateway, key).status_code == 402  # what is left is less than an estimate
    assert _call(gateway, gateway.key).status_code == 200  # the suite's key has no budget


# -- crash, CLI ---------------------------------------------------------------------------------------------


def test_a_dead_instances_reservations_are_released_by_the_sweep(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    keys = KeyStore(url)
    record, _ = keys.create("budgeted", budget=1.0)
    dying = Ledger(url)
    dying.start()

    async def start_two() -> None:
        for number in range(2):
            row = usage_row(f"r{number}", "started")
            row.key_id = record.id
            (await dying.begin(row, reserve=0.4)).check()
        row = usage_row("r2", "started")
        row.key_id = record.id
        with pytest.raises(GatewayError) as refused:
            (await dying.begin(row, reserve=0.4)).check()
        assert refused.value.status == 402

    asyncio.run(start_two())
    dying.close()
    assert keys.get(record.id).reserved == pytest.approx(0.8)  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "crash.db") as connection:  # the instance stopped beating
        connection.execute("UPDATE instances SET beat_at = 0")
    survivor = Ledger(url)
    survivor.start()
    survivor.close()
    after = keys.get(record.id)
    assert after is not None
    assert after.reserved == 0.0
    rows = ledger(tmp_path / "crash.db", settle=0)
    assert {(row["status"], row["reserved"]) for row in rows} == {("interrupted", 0.0)}
    # the slow instance was alive after all: its final row lands once, releasing nothing twice
    late = Ledger(url)
    late.start()
    final = usage_row("r0", "completed")
    final.key_id, final.cost = record.id, 0.25
    late.record(final, settle=True)
    late.close()
    settled = keys.get(record.id)
    assert settled is not None
    assert (settled.spent, settled.reserved) == (0.25, 0.0)
    keys.close()


def test_the_cli_sets_shows_and_lifts_a_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text("")
    cli(["keys", "--config", str(config_file), "create", "--name", "team", "--budget", "12.5"])
    key_id = capsys.readouterr().out.split()[2]
    cli(["keys", "--config", str(config_file), "list"])
    assert "0 / 12.5" in capsys.readouterr().out
    cli(["keys", "--config", str(config_file), "budget", key_id, "none"])
    assert "lifted" in capsys.readouterr().out
    cli(["keys", "--config", str(config_file), "list"])
    assert "0 / -" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli(["keys", "--config", str(config_file), "budget", key_id, "-3"])


@pytest.mark.timeout(30)
def test_a_stream_holds_its_estimate_until_it_ends_then_spends_its_cost(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1))
    key_id, key = _budgeted(gateway, 1.5 * PER_CALL)
    openai_fake.enqueue(openai_stream(10, event_delay=0.1))
    headers = {"Authorization": f"Key {key}", **KEYS}
    with (
        httpx.Client(base_url=gateway.url, timeout=15) as http,
        http.stream("POST", OPENAI_ONLY, json={**BODY, "stream": True}, headers=headers) as streaming,
    ):
        lines = streaming.iter_lines()
        next(lines)
        assert _figures(gateway, key_id) == (0.0, pytest.approx(PER_CALL))
        second = http.post(OPENAI_ONLY, json=BODY, headers=headers)  # the hold leaves < 1 estimate
        assert second.status_code == 402
        for _ in lines:
            pass
    ledger(gateway)
    spent, reserved = _figures(gateway, key_id)
    assert spent == pytest.approx((7 * 0.15 + 20 * 0.60) / 1e6)  # the stream's own usage
    assert reserved == pytest.approx(0.0, abs=1e-15)
