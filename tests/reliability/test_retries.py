"""U1, U2, U3, U16: retries before the first byte, Retry-After, fallback when a vendor is down.

Every count is taken at the fake vendor (what really reached the wire), every row from the
ledger table the gateway wrote.
"""

from __future__ import annotations

import itertools
import time
from email.utils import formatdate

import pytest

from proxy.dispatch.retry import RetryPolicy
from schemas.config import RetryConfig
from schemas.errors import Code, UpstreamError
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    ANTHROPIC_MODEL,
    ANTHROPIC_ONLY,
    CHAT,
    OPENAI_ONLY,
    config,
    ledger,
    openai_stream,
    post,
    stream,
    words_text,
)

OVERLOADED = OPENAI.errors[Code.OVERLOADED]
SERVER_ERROR = OPENAI.errors[Code.SERVER_ERROR]


def rate_limited(**headers: str) -> Reply:
    reply = Reply.fixture("openai/error-429.json")
    reply.headers = {"Content-Type": "application/json", **headers}
    return reply


@pytest.mark.timeout(20)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_u1_vendor_refusing_connections_falls_back_after_the_retries(
    make_gateway: GatewayFactory, fault_proxy: FaultProxy, anthropic_fake: FakeVendor, streamed: bool
) -> None:
    fault_proxy.down()
    gateway = make_gateway(config(), openai_url=fault_proxy.url)
    if streamed:
        result = stream(gateway)
        assert result.status == 200
        assert result.first("start")["provider"] == "anthropic"
        assert result.kinds[-1] == "done" and "error" not in result.kinds
    else:
        response = post(gateway)
        assert response.status_code == 200, response.text
        assert response.json()["output"]["content"] == "Hello! How can I help you today?"
    assert len(anthropic_fake.received) == 1
    assert anthropic_fake.last.json()["model"] == ANTHROPIC_MODEL
    assert fault_proxy.connections == 0
    [row] = ledger(gateway)
    assert row["status"] == "completed"
    assert row["provider"] == "anthropic"
    assert row["attempts"] == 4  # three refused at openai, then the fallback


@pytest.mark.timeout(20)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_u2_two_503s_then_success_is_three_attempts_and_one_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor, streamed: bool
) -> None:
    gateway = make_gateway(config(base_delay=0.2, max_delay=1.0))
    openai_fake.enqueue(OVERLOADED, OVERLOADED)
    if streamed:
        openai_fake.enqueue(openai_stream(5))
        result = stream(gateway)
        assert result.status == 200
        assert result.text == words_text(5)
        assert result.first("start")["provider"] == "openai"
    else:
        response = post(gateway)
        assert response.status_code == 200, response.text
    assert len(openai_fake.received) == 3
    assert anthropic_fake.received == []
    first, second, third = (request.at for request in openai_fake.received)
    # full jitter: the wait before retry n is uniform in [0, base * 2**(n-1)]; the rest of a
    # gap is one refused-and-answered round trip on loopback, with room for a busy 2-core CI
    # machine (the bounds themselves are checked exactly in the next test); a fixed wait at
    # max_delay would still show here as a gap of a second or more
    assert second - first < 0.2 + 0.5
    assert third - second < 0.4 + 0.5
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"], row["provider"]) == ("completed", 3, "openai")


def test_u2_backoff_is_full_jitter_within_its_ceiling() -> None:
    policy = RetryPolicy(RetryConfig(base_delay=0.5, max_delay=8.0, attempts=10))
    error = UpstreamError(Code.OVERLOADED, "busy", provider="openai")
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (6, 8.0)]:
        delays = [policy.delay(error, attempt) for _ in range(400)]
        assert all(delay is not None and 0 <= delay <= ceiling for delay in delays)
        spread = [delay for delay in delays if delay is not None]
        assert min(spread) < ceiling * 0.1 and max(spread) > ceiling * 0.9


@pytest.mark.timeout(20)
def test_u3_retry_after_one_second_is_waited_for_not_earlier(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(base_delay=0.01))
    openai_fake.enqueue(rate_limited(**{"retry-after": "1"}))
    response = post(gateway, OPENAI_ONLY)
    assert response.status_code == 200, response.text
    first, second = (request.at for request in openai_fake.received)
    assert 1.0 <= second - first < 1.5
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"]) == ("completed", 2)


@pytest.mark.timeout(20)
def test_u3_retry_after_as_an_http_date(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> None:
    gateway = make_gateway(config())
    now = time.time()
    when = int(now + 2)  # an HTTP date has whole seconds
    wall = now - time.monotonic()  # the fake stamps requests with the monotonic clock
    openai_fake.enqueue(rate_limited(**{"retry-after": formatdate(when, usegmt=True)}))
    response = post(gateway, OPENAI_ONLY)
    assert response.status_code == 200, response.text
    _, second = (request.at for request in openai_fake.received)
    # the retry waits for the moment the date names, however long the first answer took
    assert when - 0.05 <= second + wall < when + 1.0


@pytest.mark.timeout(20)
def test_u3_retry_after_ms_wins_over_backoff(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> None:
    gateway = make_gateway(config(base_delay=5.0, max_delay=8.0))
    openai_fake.enqueue(rate_limited(**{"retry-after-ms": "300"}), rate_limited(**{"retry-after-ms": "300"}))
    response = post(gateway, OPENAI_ONLY)
    assert response.status_code == 200, response.text
    times = [request.at for request in openai_fake.received]
    assert len(times) == 3
    for earlier, later in itertools.pairwise(times):
        assert 0.3 <= later - earlier < 0.6


@pytest.mark.timeout(20)
def test_u3_retry_after_beyond_the_cap_is_not_waited_for(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(rate_limited(**{"retry-after": "120"}))
    started = time.monotonic()
    response = post(gateway, OPENAI_ONLY)
    assert time.monotonic() - started < 1.0
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "120"
    assert len(openai_fake.received) == 1
    [row] = ledger(gateway)
    assert (row["status"], row["error_code"], row["attempts"]) == ("upstream_error", "rate_limited", 1)


@pytest.mark.timeout(20)
def test_u3_retry_after_past_the_deadline_is_not_waited_for(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(total=1.0))
    openai_fake.enqueue(rate_limited(**{"retry-after": "3"}))
    started = time.monotonic()
    response = post(gateway, OPENAI_ONLY)
    assert time.monotonic() - started < 0.8
    assert response.status_code == 429
    assert len(openai_fake.received) == 1


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("vendor", "attempts", "streamed"),
    [("openai", 3, False), ("openai", 2, True), ("anthropic", 3, True), ("anthropic", 1, False)],
)
def test_u16_sdk_retries_are_off_a_500_makes_exactly_our_attempts(
    make_gateway: GatewayFactory,
    openai_fake: FakeVendor,
    anthropic_fake: FakeVendor,
    attempts: int,
    vendor: str,
    streamed: bool,
) -> None:
    gateway = make_gateway(config(attempts=attempts))
    fake = openai_fake if vendor == "openai" else anthropic_fake
    fake.responder = lambda _: SERVER_ERROR
    path = OPENAI_ONLY if vendor == "openai" else ANTHROPIC_ONLY
    if streamed:
        result = stream(gateway, path)
        status = result.status
    else:
        status = post(gateway, path).status_code
    assert status == 502
    assert len(fake.received) == attempts
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"], row["error_code"]) == ("upstream_error", attempts, "server_error")


@pytest.mark.timeout(20)
def test_request_fallbacks_are_tried_after_the_route(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1))
    openai_fake.responder = lambda _: OVERLOADED
    body = {"messages": [{"role": "user", "content": "Hi"}], "fallbacks": [f"anthropic/{ANTHROPIC_MODEL}"]}
    response = post(gateway, OPENAI_ONLY, body)
    assert response.status_code == 200, response.text
    assert len(openai_fake.received) == 1 and len(anthropic_fake.received) == 1
    [row] = ledger(gateway)
    assert (row["provider"], row["attempts"]) == ("anthropic", 2)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("fallback", ["nowhere/model-x", "openai/gpt-oss-20b"])
def test_request_fallbacks_are_validated_before_any_call(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, fallback: str
) -> None:
    gateway = make_gateway(config())
    body = {"messages": [{"role": "user", "content": "Hi"}], "fallbacks": [fallback]}
    response = post(gateway, CHAT, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert openai_fake.received == []


@pytest.mark.timeout(20)
def test_retry_waits_of_one_request_stay_within_the_total_wait_budget(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(
        config().replace("max_retry_after = 20.0", "max_retry_after = 20.0\nmax_total_wait = 0.5")
    )
    openai_fake.responder = lambda _: rate_limited(**{"retry-after-ms": "400"})
    started = time.monotonic()
    response = post(gateway, OPENAI_ONLY)
    assert response.status_code == 429
    assert len(openai_fake.received) == 2  # one wait of 0.4 s fits in 0.5 s, a second does not
    assert time.monotonic() - started < 0.9


def test_retry_budget_is_a_share_of_requests_in_flight_with_a_floor() -> None:
    policy = RetryPolicy(RetryConfig(budget_ratio=0.2, budget_floor=3))
    policy.in_flight = 100
    policy.retries_in_flight = 19
    assert policy.budget_allows()
    policy.retries_in_flight = 20
    assert not policy.budget_allows()
    policy.in_flight = 2
    policy.retries_in_flight = 2
    assert policy.budget_allows()  # the floor: a quiet gateway may still retry
    policy.retries_in_flight = 3
    assert not policy.budget_allows()
