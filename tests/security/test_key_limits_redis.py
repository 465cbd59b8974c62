"""Per-key limits shared through Redis hold across replicas (S11 on two replicas).

Two gateways on real sockets share one SQLite database (so both know the keys) and one
Redis; calls are spread over both. Every test runs twice: on fakeredis' TCP server (its
Lua included) and on a real `redis-server` (tests/redis_server.py), so the admission
script, leases and server time are proven on the server users run.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from proxy.limits import KeyLimits, SharedKeyLimiter
from proxy.settings import ConfigError, load_settings
from schemas.config import LimitsConfig
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.security.conftest import MODEL, REDIS_SERVERS, SEED, VENDOR_KEY, MakeGateway, redis_server
from tests.security.test_key_limits import _assert_limited, _key, _post, _wait_for


def _replicas(
    make_gateway: MakeGateway, tmp_path: Path, redis_url: str, extra: str = ""
) -> tuple[RunningGateway, RunningGateway]:
    config = f'[limits]\nbackend = "redis"\nredis_url = "{redis_url}"\n{extra}'
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first = make_gateway(config, UNIGATE_DATABASE_URL=database)
    return first, make_gateway(config, UNIGATE_DATABASE_URL=database)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize(("limit", "extra"), [(1, 2), (3, 4)])
def test_exactly_n_concurrent_calls_are_admitted_across_two_replicas(
    make_gateway: MakeGateway,
    fake_openai_vendor: FakeVendor,
    tmp_path: Path,
    redis_url: str,
    limit: int,
    extra: int,
) -> None:
    replicas = _replicas(make_gateway, tmp_path, redis_url)
    key = _key(replicas[0], concurrency=limit)
    total = limit + extra
    fake_openai_vendor.enqueue(*[Reply.fixture("openai/chat.json", delay=0.8) for _ in range(total)])
    barrier = threading.Barrier(total)

    def call(index: int) -> httpx.Response:
        barrier.wait()
        return _post(replicas[index % 2], key)

    with ThreadPoolExecutor(total) as pool:
        responses = list(pool.map(call, range(total)))
    assert sorted(response.status_code for response in responses) == [200] * limit + [429] * extra
    for response in responses:
        if response.status_code == 429:
            _assert_limited(response)
    assert len(fake_openai_vendor.received) == limit
    # the slots came back, on either replica, as soon as the answers had ended
    assert _post(replicas[1], key).status_code == 200
    assert _post(replicas[0], key).status_code == 200


def test_rpm_admits_exactly_n_per_minute_across_two_replicas(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, tmp_path: Path, redis_url: str
) -> None:
    first, second = _replicas(make_gateway, tmp_path, redis_url)
    key = _key(first, rpm=3)
    assert [_post(replica, key).status_code for replica in (first, second, first)] == [200, 200, 200]
    for replica in (second, first):
        limited = _post(replica, key)
        _assert_limited(limited)
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(fake_openai_vendor.received) == 3


def test_tokens_used_on_one_replica_count_on_the_other(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, tmp_path: Path, redis_url: str
) -> None:
    first, second = _replicas(make_gateway, tmp_path, redis_url)
    key = _key(first, tpm=25)  # the fake's answer uses 19 + 10 tokens
    assert _post(first, key).status_code == 200
    assert _wait_for(lambda: _post(second, key).status_code == 429)
    limited = _post(second, key)
    _assert_limited(limited)
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert len(fake_openai_vendor.received) == 1


def test_a_stream_keeps_its_lease_past_the_lease_time(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, tmp_path: Path, redis_url: str
) -> None:
    """The lease lives 0.6 s unless refreshed; the stream runs ~3 s and holds its slot throughout."""
    first, second = _replicas(make_gateway, tmp_path, redis_url, "lease_seconds = 0.6\n")
    key = _key(first, concurrency=1)
    fake_openai_vendor.enqueue(Reply.fixture("openai/chat-stream.sse", event_delay=0.25))
    headers = {"Authorization": f"Key {key}", "Provider-Key": VENDOR_KEY}
    with (
        httpx.Client(base_url=first.url, timeout=10) as client,
        client.stream("POST", MODEL, json={**SEED, "stream": True}, headers=headers) as streaming,
    ):
        chunks = streaming.iter_bytes()
        next(chunks)
        _assert_limited(_post(second, key))
        time.sleep(1.5)  # well past the lease's own expiry: only the refresh keeps it
        _assert_limited(_post(second, key))
        for _ in chunks:
            pass
    assert _post(second, key).status_code == 200


def test_a_lease_left_by_a_dead_replica_expires(
    make_gateway: MakeGateway, tmp_path: Path, redis_url: str
) -> None:
    (gateway, _) = _replicas(make_gateway, tmp_path, redis_url)
    record, key = gateway.gateway.keys.create("limited", concurrency=1)

    async def die_holding_a_lease() -> None:
        replica = SharedKeyLimiter(LimitsConfig(backend="redis", redis_url=redis_url, lease_seconds=1.0))
        assert await replica.admit(record.id, KeyLimits(rpm=None, tpm=None, concurrency=1)) is not None
        await replica.aclose()  # stops refreshing, never releases: as a replica killed mid-call

    asyncio.run(die_holding_a_lease())
    _assert_limited(_post(gateway, key))
    assert _wait_for(lambda: _post(gateway, key).status_code == 200, seconds=3)


def test_redis_holds_only_key_ids_and_everything_expires(
    make_gateway: MakeGateway, tmp_path: Path, redis_url: str
) -> None:
    first, second = _replicas(make_gateway, tmp_path, redis_url)
    key = _key(first, rpm=5, tpm=1000, concurrency=2)
    assert _post(first, key).status_code == 200
    assert _post(second, key, {**SEED, "stream": True}).status_code == 200
    secret = key.rsplit("-", 1)[1]
    with redis.Redis.from_url(redis_url) as client:
        assert _wait_for(lambda: len(client.keys("*")) == 2)  # requests and tokens; no lease left
        for name in client.keys("*"):
            assert name.startswith(b"unigate:limits:{" + key.split("-")[1].encode() + b"}:")
            assert 0 < client.pttl(name) <= 62_000
            dumped = repr(
                client.zrange(name, 0, -1) if client.type(name) == b"zset" else client.hgetall(name)
            )
            assert secret not in dumped and key not in dumped
    assert VENDOR_KEY not in repr(first.settings.config.limits)


def test_redis_down_fails_open_with_a_warning_and_no_key_in_logs(
    make_gateway: MakeGateway, all_logs: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(f'[limits]\nbackend = "redis"\nredis_url = "{_closed_port_url()}"\n')
    key = _key(gateway, rpm=1, concurrency=1)
    assert [_post(gateway, key).status_code for _ in range(3)] == [200, 200, 200]
    warnings = [r for r in all_logs.records if "rate-limit store unreachable" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert key not in all_logs.text and VENDOR_KEY not in all_logs.text


def test_redis_down_fails_closed_with_503_and_retry_after(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, all_logs: pytest.LogCaptureFixture
) -> None:
    url = _closed_port_url()
    gateway = make_gateway(f'[limits]\nbackend = "redis"\nredis_url = "{url}"\nredis_failure = "closed"\n')
    key = _key(gateway, rpm=100)
    for _ in range(2):
        response = _post(gateway, key)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "overloaded"
        assert int(response.headers["Retry-After"]) >= 1
    assert fake_openai_vendor.received == []
    unlimited = _key(gateway, rpm=0)  # a key without limits never needs Redis
    assert _post(gateway, unlimited).status_code == 200
    assert key not in all_logs.text and VENDOR_KEY not in all_logs.text


@pytest.mark.parametrize("kind", REDIS_SERVERS)
def test_redis_lost_mid_call_neither_fails_the_call_nor_the_next(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, tmp_path: Path, kind: str
) -> None:
    with redis_server(kind, tmp_path) as url:
        gateway = make_gateway(f'[limits]\nbackend = "redis"\nredis_url = "{url}"\n')
        key = _key(gateway, concurrency=1, tpm=10_000)
        fake_openai_vendor.enqueue(Reply.fixture("openai/chat.json", delay=0.8))
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(_post, gateway, key)
            assert _wait_for(lambda: len(fake_openai_vendor.received) == 1)
    # Redis is gone: the running call's release and charge fail quietly, the next call is admitted
    assert running.result().status_code == 200
    assert _post(gateway, key).status_code == 200


def test_redis_backend_needs_a_url_and_takes_it_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[limits]\nbackend = "redis"\n')
    with pytest.raises(ConfigError, match="redis_url"):
        load_settings(config, environ={})
    settings = load_settings(config, environ={"UNIGATE_REDIS_URL": "redis://127.0.0.1:6399/2"})
    assert settings.config.limits.redis_url == "redis://127.0.0.1:6399/2"
    config.write_text('[limits]\nbackend = "redis"\nredis_url = "${LIMITS_REDIS}"\n')
    settings = load_settings(config, environ={"LIMITS_REDIS": "redis://127.0.0.1:6399/3"})
    assert settings.config.limits.redis_url == "redis://127.0.0.1:6399/3"
    config.write_text('[limits]\nbackend = "redis"\nredis_url = "http://127.0.0.1:6399"\n')
    with pytest.raises(ConfigError, match="redis://"):
        load_settings(config, environ={})


def test_two_replicas_on_postgres_and_redis_admit_exactly_n(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, redis_url: str, postgres_url: str
) -> None:
    """The multi-replica setup of docs/design.md: keys and the ledger in Postgres, limits in
    Redis; a key made through one replica is limited on both."""
    config = f'[limits]\nbackend = "redis"\nredis_url = "{redis_url}"\n'
    replicas = [make_gateway(config, UNIGATE_DATABASE_URL=postgres_url) for _ in range(2)]
    key = _key(replicas[0], concurrency=2)
    fake_openai_vendor.enqueue(*[Reply.fixture("openai/chat.json", delay=0.8) for _ in range(5)])
    barrier = threading.Barrier(5)

    def call(index: int) -> httpx.Response:
        barrier.wait()
        return _post(replicas[index % 2], key)

    with ThreadPoolExecutor(5) as pool:
        statuses = sorted(response.status_code for response in pool.map(call, range(5)))
    assert statuses == [200, 200, 429, 429, 429]
    assert len(fake_openai_vendor.received) == 2
