"""Issue 13: the gauges and counters that report the gateway's state, read with prometheus-
client's own text parser after the state was driven through real requests against fakes:
breakers (closed → open → half-open → closed), pool members (health, in flight, queue wait),
the ledger (queue depth and write lag while the database refuses writes), budgets."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.storage import sqlite_path
from schemas.errors import Code
from tests.conftest import RunningGateway
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, ServerThread
from tests.fakes.vllm import FakeVLLM, chat_stream
from tests.pools.conftest import pool_toml, refusing_url
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import BODY, KEYS, OPENAI_ONLY, client, config, post, wait_for

SERVER_ERROR = OPENAI.errors[Code.SERVER_ERROR]
RATIO = "unigate_budget_spent_ratio"
BUDGET = 0.000036
"""Room for one call's estimate (10 in, 50 out at 0.15/0.60 per million), not for two."""
ACTUAL = (19 * 0.15 + 10 * 0.60) / 1e6
"""What the fake's openai/chat.json answer costs (19 in, 10 out)."""
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(gateway: RunningGateway) -> Samples:
    response = httpx.get(f"{gateway.url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    values: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The one sample of `name` whose labels include `labels` (None: there is none)."""
    found = [
        sample
        for (sample_name, pairs), sample in samples.items()
        if sample_name == name and all(dict(pairs).get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{name} {labels} is ambiguous: {found}"
    return found[0] if found else None


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        sample
        for (sample_name, pairs), sample in samples.items()
        if sample_name == name and all(dict(pairs).get(k) == v for k, v in labels.items())
    )


def eventually(gateway: RunningGateway, check: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
    """Scrape until `check` holds for a scrape; that scrape."""
    seen: list[Samples] = []

    def holds() -> bool:
        seen[:] = [scrape(gateway)]
        return check(seen[0])

    wait_for(holds, timeout)
    return seen[0]


# -- breakers ---------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_breaker_state_goes_open_half_open_closed(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, consecutive_failures=2, open_seconds=0.5))
    state = "unigate_breaker_state"
    assert post(gateway).status_code == 200  # a success: the breaker exists, closed
    target = next(
        dict(pairs)["target"]
        for (name, pairs), _ in scrape(gateway).items()
        if name == state and "openai" in dict(pairs)["target"]
    )
    assert value(scrape(gateway), state, target=target) == 0
    openai_fake.enqueue(SERVER_ERROR, SERVER_ERROR)
    assert post(gateway).status_code == 200 and post(gateway).status_code == 200  # the fallback answers
    opened = scrape(gateway)
    assert value(opened, state, target=target) == 2, "two vendor faults in a row opened it"
    assert len(openai_fake.received) == 3
    # once open_seconds have passed, the next call is the probe: half-open until it answers
    eventually(gateway, lambda samples: value(samples, state, target=target) == 1)
    assert len(openai_fake.received) == 3, "half-open is reported before any probe was sent"
    assert post(gateway).status_code == 200
    assert len(openai_fake.received) == 4  # the probe reached the vendor and succeeded
    assert value(scrape(gateway), state, target=target) == 0
    assert all(
        "anthropic" not in dict(pairs)["target"] or sample == 0
        for (name, pairs), sample in scrape(gateway).items()
        if name == state
    ), "the fallback's breaker stayed closed"


@pytest.mark.timeout(30)
def test_breaker_transitions_are_counted_as_they_happen(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, consecutive_failures=2, open_seconds=0.3))
    moved, state = "unigate_breaker_transitions_total", "unigate_breaker_state"
    assert post(gateway).status_code == 200  # a success: the breaker exists, closed, never moved
    before = scrape(gateway)
    target = next(
        dict(pairs)["target"]
        for (name, pairs), _ in before.items()
        if name == state and "openai" in dict(pairs)["target"]
    )

    def deltas(samples: Samples) -> dict[str, float]:
        return {
            to: total(samples, moved, target=target, to=to) - total(before, moved, target=target, to=to)
            for to in ("open", "half_open", "closed")
        }

    assert deltas(before) == {"open": 0, "half_open": 0, "closed": 0}
    openai_fake.enqueue(SERVER_ERROR, SERVER_ERROR)
    assert post(gateway).status_code == 200 and post(gateway).status_code == 200  # the fallback answers
    assert deltas(scrape(gateway)) == {"open": 1, "half_open": 0, "closed": 0}
    assert post(gateway).status_code == 200, "an open breaker's calls go to the fallback"
    assert deltas(scrape(gateway)) == {"open": 1, "half_open": 0, "closed": 0}, "no change, no count"
    # the probe fails: half-open, then open again (for twice as long)
    eventually(gateway, lambda samples: value(samples, state, target=target) == 1)
    openai_fake.enqueue(SERVER_ERROR)
    assert post(gateway).status_code == 200
    assert len(openai_fake.received) == 4
    assert deltas(scrape(gateway)) == {"open": 2, "half_open": 1, "closed": 0}
    # the next probe succeeds: half-open, then closed
    eventually(gateway, lambda samples: value(samples, state, target=target) == 1)
    assert post(gateway).status_code == 200
    assert len(openai_fake.received) == 5
    assert deltas(scrape(gateway)) == {"open": 2, "half_open": 2, "closed": 1}
    assert post(gateway).status_code == 200
    after = scrape(gateway)
    assert deltas(after) == {"open": 2, "half_open": 2, "closed": 1}
    assert total(after, moved, to="open") - total(before, moved, to="open") == 2, "the fallback never moved"


# -- pools ------------------------------------------------------------------------------------


@pytest.fixture
def worker() -> Iterator[tuple[FakeVLLM, str]]:
    fake = FakeVLLM()
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


@pytest.mark.timeout(30)
def test_pool_members_health_in_flight_and_queue_wait(
    make_gateway: GatewayFactory, worker: tuple[FakeVLLM, str]
) -> None:
    fake, url = worker
    down = refusing_url()
    pool = pool_toml("gpu", [url, down], models=["NousResearch/*"], health_interval=0.1, concurrency=1)
    gateway = make_gateway(config() + pool)
    healthy, in_flight = "unigate_pool_member_healthy", "unigate_pool_member_in_flight"
    first = eventually(
        gateway,
        lambda samples: (
            value(samples, healthy, pool="gpu", member=url) == 1
            and value(samples, healthy, pool="gpu", member=down) == 0
        ),
    )
    assert value(first, in_flight, pool="gpu", member=url) == 0
    waits_before = total(first, "unigate_pool_queue_wait_seconds_count", pool="gpu")
    # a slow stream holds the member's only slot; a second call waits for it
    fake.enqueue(chat_stream(fake.model, event_delay=0.15), chat_stream(fake.model))
    path = f"/models/v2/{fake.model}"
    answers: list[int] = []

    def call() -> None:
        with client(gateway) as http:
            answers.append(http.post(path, json=BODY).status_code)

    slow = threading.Thread(target=call)
    slow.start()
    busy = eventually(gateway, lambda samples: value(samples, in_flight, pool="gpu", member=url) == 1)
    assert value(busy, in_flight, pool="gpu", member=down) == 0
    waiting = threading.Thread(target=call)
    waiting.start()
    slow.join(10)
    waiting.join(10)
    assert answers == [200, 200]
    after = eventually(gateway, lambda samples: value(samples, in_flight, pool="gpu", member=url) == 0)
    assert total(after, "unigate_pool_queue_wait_seconds_count", pool="gpu") - waits_before == 2
    # a member that reports it is loading its model stops taking requests, then comes back
    fake.loading = True
    eventually(gateway, lambda samples: value(samples, healthy, pool="gpu", member=url) == 0)
    fake.loading = False
    eventually(gateway, lambda samples: value(samples, healthy, pool="gpu", member=url) == 1)


# -- the ledger -------------------------------------------------------------------------------


@pytest.mark.timeout(45)
def test_ledger_depth_and_write_lag_while_the_database_refuses_writes(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    assert post(gateway, OPENAI_ONLY).status_code == 200
    depth, lag = "unigate_ledger_queue_depth", "unigate_ledger_write_lag_seconds"
    idle = eventually(gateway, lambda samples: value(samples, depth) == 0)
    settled_lag = value(idle, lag)
    assert settled_lag is not None and settled_lag >= 0
    blocker = sqlite3.connect(sqlite_path(gateway.settings.database_url), timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    answers: list[int] = []
    callers = [threading.Thread(target=lambda: answers.append(post(gateway, OPENAI_ONLY).status_code))]
    try:
        callers[0].start()
        # the writer took the first row and waits on the lock: the lag grows with the wait
        first = eventually(gateway, lambda samples: (value(samples, lag) or 0) > (settled_lag or 0))
        for _ in range(3):
            callers.append(
                threading.Thread(target=lambda: answers.append(post(gateway, OPENAI_ONLY).status_code))
            )
            callers[-1].start()
        queued = eventually(gateway, lambda samples: (value(samples, depth) or 0) >= 3)
        assert (value(queued, lag) or 0) > (value(first, lag) or 0), "the lag keeps growing"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    for caller in callers:
        caller.join(20)
    assert answers == [200] * 4
    drained = eventually(gateway, lambda samples: value(samples, depth) == 0)
    assert (value(drained, lag) or 0) > 0


# -- budgets ----------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_budget_refusals_are_counted(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> None:
    gateway = make_gateway(config())
    _, key = gateway.gateway.keys.create("small", budget=BUDGET)
    before = scrape(gateway)
    headers = {"Authorization": f"Key {key}", **KEYS}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as http:
        codes = [http.post(OPENAI_ONLY, json=BODY).status_code for _ in range(4)]
    # one call's estimate fits the budget; after its cost is spent, the next one does not
    assert codes == [200, 402, 402, 402]
    refused = 3
    after = eventually(
        gateway,
        lambda samples: (
            total(samples, "unigate_requests_total", code="budget_exceeded")
            - total(before, "unigate_requests_total", code="budget_exceeded")
            == refused
        ),
    )
    assert (
        total(after, "unigate_budget_refusals_total") - total(before, "unigate_budget_refusals_total")
        == refused
    )
    assert (
        total(after, "unigate_requests_total", status="402", code="budget_exceeded")
        - total(before, "unigate_requests_total", status="402", code="budget_exceeded")
        == refused
    )
    assert total(after, "unigate_limiter_refusals_total") == total(before, "unigate_limiter_refusals_total")
    # the share of the budget gone: the one call's cost (the refused ones reserved nothing)
    spent = eventually(gateway, lambda samples: (value(samples, RATIO) or 0) > 0, timeout=10)
    assert value(spent, RATIO) == pytest.approx(ACTUAL / BUDGET)


@pytest.mark.timeout(30)
def test_with_per_key_the_budget_metrics_name_the_key(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config() + "\n[metrics]\nper_key = true\n")
    record, key = gateway.gateway.keys.create("small", budget=BUDGET)
    headers = {"Authorization": f"Key {key}", **KEYS}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as http:
        assert [http.post(OPENAI_ONLY, json=BODY).status_code for _ in range(2)] == [200, 402]
    samples = eventually(gateway, lambda samples: (value(samples, RATIO, key_id=record.id) or 0) > 0, 10)
    assert value(samples, RATIO, key_id=record.id) == pytest.approx(ACTUAL / BUDGET)
    assert value(samples, RATIO, key_id=gateway.gateway.keys.list()[0].id) is None, "no budget, no series"
    assert value(samples, "unigate_budget_refusals_total", key_id=record.id) == 1
    assert total(samples, "unigate_requests_total", key_id=record.id, status="200") == 1
