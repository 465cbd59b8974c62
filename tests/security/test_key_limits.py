"""Per-key limits hold (S11): RPM, TPM and concurrency, each a 429 with Retry-After."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from proxy.identity.keys import KeyStore
from proxy.limits import KeyLimiter, KeyLimits, effective_limits
from schemas.config import LimitsConfig
from schemas.errors import GatewayError
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply
from tests.security.conftest import MODEL, SEED, VENDOR_KEY, MakeGateway


def _key(gateway: RunningGateway, **limits: int) -> str:
    _, key = gateway.gateway.keys.create("limited", **limits)
    return key


def _post(gateway: RunningGateway, key: str, body: object = SEED) -> httpx.Response:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        return client.post(
            MODEL, json=body, headers={"Authorization": f"Key {key}", "Provider-Key": VENDOR_KEY}
        )


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(("limit", "extra"), [(1, 2), (3, 4)])
def test_exactly_n_concurrent_calls_are_admitted(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, limit: int, extra: int
) -> None:
    gateway = make_gateway()
    key = _key(gateway, concurrency=limit)
    fake_openai_vendor.enqueue(*[Reply.fixture("openai/chat.json", delay=0.8) for _ in range(limit + extra)])
    barrier = threading.Barrier(limit + extra)

    def call(_: int) -> httpx.Response:
        barrier.wait()
        return _post(gateway, key)

    with ThreadPoolExecutor(limit + extra) as pool:
        responses = list(pool.map(call, range(limit + extra)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * limit + [429] * extra
    for response in responses:
        if response.status_code == 429:
            _assert_limited(response)
    assert len(fake_openai_vendor.received) == limit
    assert gateway.gateway is not None
    assert _post(gateway, key).status_code == 200  # the slots came back


def test_a_stream_holds_its_slot_until_it_has_ended(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway()
    key = _key(gateway, concurrency=1)
    fake_openai_vendor.enqueue(Reply.fixture("openai/chat-stream.sse", event_delay=0.1))
    headers = {"Authorization": f"Key {key}", "Provider-Key": VENDOR_KEY}
    with (
        httpx.Client(base_url=gateway.url, timeout=10) as client,
        client.stream("POST", MODEL, json={**SEED, "stream": True}, headers=headers) as streaming,
    ):
        chunks = streaming.iter_bytes()
        next(chunks)  # the stream has started
        _assert_limited(_post(gateway, key))
        for _ in chunks:
            pass
    assert _wait_for(lambda: _post(gateway, key).status_code == 200)


def test_a_client_that_leaves_mid_stream_gives_its_slot_back(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway()
    key = _key(gateway, concurrency=1)
    fake_openai_vendor.enqueue(Reply.fixture("openai/chat-stream.sse", event_delay=0.5))
    headers = {"Authorization": f"Key {key}", "Provider-Key": VENDOR_KEY}
    with (
        httpx.Client(base_url=gateway.url, timeout=10) as client,
        client.stream("POST", MODEL, json={**SEED, "stream": True}, headers=headers) as streaming,
    ):
        chunks = streaming.iter_bytes()
        next(chunks)
        _assert_limited(_post(gateway, key))
    # the client closed the connection mid-stream: the slot comes back without waiting for the vendor
    assert _wait_for(lambda: _post(gateway, key).status_code == 200, seconds=2)


def test_rpm_admits_exactly_n_per_minute(make_gateway: MakeGateway, fake_openai_vendor: FakeVendor) -> None:
    gateway = make_gateway()
    key = _key(gateway, rpm=3)
    assert [_post(gateway, key).status_code for _ in range(3)] == [200, 200, 200]
    limited = _post(gateway, key)
    _assert_limited(limited)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(fake_openai_vendor.received) == 3


def test_tpm_is_fed_by_actual_usage(make_gateway: MakeGateway, fake_openai_vendor: FakeVendor) -> None:
    gateway = make_gateway()
    key = _key(gateway, tpm=25)  # the fake's answer uses 19 + 10 tokens
    assert _post(gateway, key).status_code == 200
    assert _wait_for(lambda: _post(gateway, key).status_code == 429)
    assert len(fake_openai_vendor.received) == 1


def test_streamed_usage_counts_toward_tpm(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    key = _key(gateway, tpm=25)
    assert _post(gateway, key, {**SEED, "stream": True}).status_code == 200
    _assert_limited(_post(gateway, key))


def test_limits_are_per_key(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    first, second = _key(gateway, rpm=1), _key(gateway, rpm=1)
    assert _post(gateway, first).status_code == 200
    _assert_limited(_post(gateway, first))
    assert _post(gateway, second).status_code == 200


def test_config_defaults_apply_and_a_key_can_lift_them(make_gateway: MakeGateway) -> None:
    gateway = make_gateway("[limits]\nrpm = 1\n")
    defaulted, unlimited = _key(gateway), _key(gateway, rpm=0)
    assert _post(gateway, defaulted).status_code == 200
    _assert_limited(_post(gateway, defaulted))
    assert [_post(gateway, unlimited).status_code for _ in range(3)] == [200, 200, 200]


def test_catalogue_reads_do_not_count(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    key = _key(gateway, rpm=1)
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Key {key}"}) as client:
        for _ in range(3):
            assert client.get("/models/v2/list/tasks").status_code == 200
    assert _post(gateway, key).status_code == 200


def test_junk_in_a_second_auth_header_does_not_evade_the_limit(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    key = _key(gateway, rpm=1)
    headers = {"Authorization": f"Key {key}", "x-api-key": "junk-junk-junk", "Provider-Key": VENDOR_KEY}
    with httpx.Client(base_url=gateway.url) as client:
        assert client.post(MODEL, json=SEED, headers=headers).status_code == 200
        _assert_limited(client.post(MODEL, json=SEED, headers=headers))


# the limiter alone, on a fake clock -------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_window_slides() -> None:
    clock = Clock()
    limiter = KeyLimiter(LimitsConfig(), clock)
    limits = KeyLimits(rpm=2, tpm=None, concurrency=None)
    limiter.admit("k", limits)
    clock.now += 30
    limiter.admit("k", limits)
    with pytest.raises(GatewayError) as caught:
        limiter.admit("k", limits)
    assert caught.value.retry_after == 30
    clock.now += 30.01
    limiter.admit("k", limits)  # the first admission has left the window


def test_tpm_retry_after_is_when_enough_tokens_expire() -> None:
    clock = Clock()
    limiter = KeyLimiter(LimitsConfig(), clock)
    limits = KeyLimits(rpm=None, tpm=100, concurrency=None)
    limiter.charge("k", 60)
    clock.now += 20
    limiter.charge("k", 60)
    with pytest.raises(GatewayError) as caught:
        limiter.admit("k", limits)
    assert caught.value.retry_after == 40
    clock.now += 40.01
    limiter.admit("k", limits)


def test_effective_limits_prefer_the_key_and_zero_means_unlimited() -> None:
    from proxy.identity.keys import KeyRecord

    record = KeyRecord("id", "n", "h", 0.0, None, rpm=0, tpm=None, concurrency=5)
    limits = effective_limits(record, LimitsConfig(rpm=10, tpm=1000, concurrency=2))
    assert limits == KeyLimits(rpm=None, tpm=1000, concurrency=5)


# storage: the CLI flags and the migration ---------------------------------------------------


def test_keys_create_takes_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from proxy.cli import main

    config = tmp_path / "config.toml"
    config.write_text("")
    main(
        [
            "keys",
            "create",
            "--name",
            "n",
            "--rpm",
            "5",
            "--tpm",
            "900",
            "--concurrency",
            "2",
            "--config",
            str(config),
        ]
    )
    key = capsys.readouterr().out.strip().splitlines()[-1]
    store = KeyStore(f"sqlite:///{tmp_path / 'unigate.db'}")
    record = asyncio.run(store.lookup(key))
    store.close()
    assert record is not None
    assert (record.rpm, record.tpm, record.concurrency) == (5, 900, 2)
    main(["keys", "list", "--config", str(config)])
    assert "900" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "n", "--rpm", "-1", "--config", str(config)])


def test_an_older_keys_table_is_migrated(tmp_path: Path) -> None:
    from proxy.identity.keys import hash_key

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
            " created_at REAL NOT NULL, revoked_at REAL, rpm INTEGER)"
        )
        connection.execute(
            "INSERT INTO keys VALUES ('old1', 'old', ?, 1.0, NULL, 7)", (hash_key("ug-old1-secret"),)
        )
    store = KeyStore(f"sqlite:///{path}")
    record = asyncio.run(store.lookup("ug-old1-secret"))
    store.close()
    assert record is not None and record.rpm == 7 and record.tpm is None


def _wait_for(condition: object, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_idle_keys_are_forgotten_and_busy_ones_kept() -> None:
    clock = Clock()
    limiter = KeyLimiter(LimitsConfig(), clock)
    limits = KeyLimits(rpm=5, tpm=None, concurrency=1)
    for number in range(1000):
        limiter.admit(f"idle-{number}", limits)
        limiter.release(f"idle-{number}")
    limiter.admit("busy", limits)  # still in flight after the window
    clock.now += 61
    limiter.admit("next", limits)
    assert limiter.in_flight("busy") == 1
    assert len(limiter._states) == 2  # busy and next
    with pytest.raises(GatewayError):
        limiter.admit("busy", limits)  # its slot is still held


def test_a_model_call_looks_its_key_up_once(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit middleware's lookup is the handler's (kept in the ASGI scope): one store
    lookup per request, on the native and the Anthropic surface, and still one for a GET,
    which only the handler looks up."""
    gateway = make_gateway()
    key = _key(gateway, rpm=100)
    assert gateway.gateway is not None
    store = gateway.gateway.keys
    looked_up: list[str] = []
    original = store.lookup

    async def counting(presented: str) -> object:
        looked_up.append(presented)
        return await original(presented)

    monkeypatch.setattr(store, "lookup", counting)
    fake_openai_vendor.enqueue(Reply.fixture("openai/chat.json"))
    assert _post(gateway, key).status_code == 200
    assert looked_up == [key]
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        listed = client.get("/models/v2/list/tasks", headers={"Authorization": f"Key {key}"})
        assert listed.status_code == 200
        assert looked_up == [key, key]
        refused = client.post(MODEL, json=SEED, headers={"Authorization": "Key not-a-key"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication"
    assert looked_up == [key, key, "not-a-key"]
