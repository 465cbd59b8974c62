"""U13, U14: circuit breakers per (provider, model), fed only by the vendor's own faults."""

from __future__ import annotations

import threading
import time

import pytest

from schemas.errors import Code
from tests.conftest import RunningGateway
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.openai import openai_responder
from tests.fakes.server import FakeVendor, Received, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import BODY, CHAT, client, config, post, wait_for

SERVER_ERROR = OPENAI.errors[Code.SERVER_ERROR]
BREAKER = ("openai", "gpt-4o-mini")


def served_by(gateway: RunningGateway, **headers: str) -> str:
    with client(gateway) as http:
        response = http.post(CHAT, json=BODY, headers=headers)
    assert response.status_code == 200, response.text
    return "openai" if response.json()["provider"]["id"].startswith("chatcmpl") else "anthropic"


@pytest.mark.timeout(20)
def test_u13_five_vendor_failures_open_the_breaker_then_one_probe_closes_it(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, consecutive_failures=5, open_seconds=0.4))
    openai_fake.enqueue(*[SERVER_ERROR] * 5)
    assert [served_by(gateway) for _ in range(5)] == ["anthropic"] * 5
    assert len(openai_fake.received) == 5
    assert served_by(gateway) == "anthropic"
    assert len(openai_fake.received) == 5  # open: skipped without a network call
    time.sleep(0.45)
    assert served_by(gateway) == "openai"  # the half-open probe went through and succeeded
    assert served_by(gateway) == "openai"  # closed again
    assert len(openai_fake.received) == 7 and len(anthropic_fake.received) == 6


@pytest.mark.timeout(20)
def test_u13_half_open_lets_one_probe_through_at_a_time(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, consecutive_failures=2, open_seconds=0.3))
    openai_fake.enqueue(SERVER_ERROR, SERVER_ERROR, Reply.fixture("openai/chat.json", delay=0.8))
    served_by(gateway), served_by(gateway)
    time.sleep(0.35)
    probe: list[str] = []
    thread = threading.Thread(target=lambda: probe.append(served_by(gateway)))
    thread.start()
    wait_for(lambda: openai_fake.in_flight == 1)
    assert served_by(gateway) == "anthropic"  # while the probe runs, others stay away
    thread.join()
    assert probe == ["openai"]
    assert len(openai_fake.received) == 3


@pytest.mark.timeout(20)
def test_u13_a_failed_probe_reopens_for_twice_as_long(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, consecutive_failures=1, open_seconds=0.3))
    openai_fake.enqueue(SERVER_ERROR, SERVER_ERROR)
    assert served_by(gateway) == "anthropic"
    time.sleep(0.35)
    assert served_by(gateway) == "anthropic"  # the probe failed: open again, now for 0.6 s
    time.sleep(0.35)
    assert served_by(gateway) == "anthropic"
    assert len(openai_fake.received) == 2
    time.sleep(0.3)
    assert served_by(gateway) == "openai"


@pytest.mark.timeout(30)
def test_u14_one_tenants_401s_and_429s_never_eject_the_provider_for_others(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(consecutive_failures=2))

    def by_key(request: Received) -> Reply:
        key = request.headers.get("authorization", "")
        if key == "Bearer sk-tenant-a-revoked":
            return Reply.fixture("openai/error-401.json")
        if key == "Bearer sk-tenant-a-capped":
            reply = Reply.fixture("openai/error-429.json")
            reply.headers = {"Content-Type": "application/json", "retry-after-ms": "1"}
            return reply
        return openai_responder(request)

    openai_fake.responder = by_key
    with client(gateway) as http:
        for _ in range(8):
            response = http.post(CHAT, json=BODY, headers={"Provider-Key": "sk-tenant-a-revoked"})
            assert response.status_code == 401
        for _ in range(3):
            http.post(CHAT, json=BODY, headers={"Provider-Key": "sk-tenant-a-capped"})
    assert len(openai_fake.received) == 8 + 3 * 3
    assert not gateway.gateway.dispatcher.breakers.is_open(BREAKER)
    anthropic_before = len(anthropic_fake.received)
    assert served_by(gateway, **{"Provider-Key": "sk-tenant-b-fine"}) == "openai"
    assert openai_fake.last.headers["authorization"] == "Bearer sk-tenant-b-fine"
    assert len(anthropic_fake.received) == anthropic_before


@pytest.mark.timeout(20)
def test_u14_vendor_faults_do_open_it(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> None:
    """The control for the test above: the same count of the vendor's own failures opens it."""
    gateway = make_gateway(config(attempts=1, consecutive_failures=2, open_seconds=5))
    openai_fake.responder = lambda _: SERVER_ERROR
    served_by(gateway), served_by(gateway)
    assert gateway.gateway.dispatcher.breakers.is_open(BREAKER)
    assert post(gateway).status_code == 200
    assert len(openai_fake.received) == 2
