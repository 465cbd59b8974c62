"""S1, S2, S13: canary secrets run through every vendor and every failure, then every sink
is grepped: logs at DEBUG (ours, uvicorn's and the SDKs', which print request headers at
DEBUG), formatted tracebacks, stdout/stderr, response bodies and headers, and the database
(keys, ledger, WAL). The gateway has no trace or metric exporter: nothing else to grep.

The canaries are shaped like no known key format, so only exact-value redaction can catch
them: a pattern-only scrubber would let them through.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from proxy.server.redaction import REDACTED, install_redaction, redact, remember_secrets
from proxy.storage import sqlite_path
from schemas.errors import Code
from tests.conftest import NODELAY, RunningGateway, start_gateway
from tests.fakes.kit import VendorKit
from tests.fakes.server import FakeVendor, Reply, ServerThread

CANARY = "canary-7f1e9a3b5c2d4e6f8a0b1c2d3e4f5a6b"
CANARY_FALLBACK = "canary-fallback-00112233445566778899"
CANARY_ADMIN_GUESS = "canary-admin-guess-aabbccddeeff0011"
CANARY_BAD_PROXY_KEY = "canary-proxy-key-99887766554433221100"
VENDOR_MODELS = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-3-haiku-20240307",
    "gemini": "google/gemini-2.5-flash",
    "cohere": "cohere/command-r",
    "mistral": "mistral/mistral-small-latest",
}
SEED = {"messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 10}}
LOUD_LOGGERS = ("openai", "anthropic", "httpx", "httpx2", "httpcore", "google_genai", "cohere", "mistralai")


def _kit(vendor: str) -> VendorKit:
    import importlib

    kit: VendorKit = importlib.import_module(f"tests.fakes.{vendor}").KIT
    return kit


def _echoing(value: Any) -> Any:
    """Every string in a vendor's error body, with the caller's key quoted in it."""
    if isinstance(value, str):
        return f"{value} (key: {CANARY}) Authorization: Bearer {CANARY}"
    if isinstance(value, dict):
        return {name: _echoing(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_echoing(item) for item in value]
    return value


def _failures(kit: VendorKit) -> list[Reply]:
    auth = kit.errors[Code.AUTHENTICATION]
    echo = Reply(
        status=auth.status,
        headers=dict(auth.headers),
        body=msgspec.json.encode(_echoing(msgspec.json.decode(auth.body))),
    )
    replies = [
        echo,
        Reply(
            status=502, headers={"Content-Type": "text/html"}, body=f"<h1>bad gateway {CANARY}</h1>".encode()
        ),
        Reply(
            status=500, headers={"Content-Type": "application/json"}, body=f'{{"error": "{CANARY}"'.encode()
        ),
        Reply(
            status=200,
            headers={"Content-Type": "text/event-stream"},
            events=[f"data: {{not json {CANARY}\n\n".encode()],
        ),
    ]
    if kit.mid_stream_error is not None:
        replies.append(kit.mid_stream_error)
    return replies


@pytest.fixture
def vendors() -> Iterator[dict[str, tuple[VendorKit, FakeVendor, str]]]:
    running: dict[str, tuple[VendorKit, FakeVendor, str]] = {}
    servers = []
    for vendor in VENDOR_MODELS:
        kit = _kit(vendor)
        fake = kit.make_fake()
        server = ServerThread(fake, lifespan="off").start()
        servers.append(server)
        running[vendor] = (kit, fake, kit.base_url(server.url))
    yield running
    for server in servers:
        server.stop()


@pytest.fixture
def canary_gateway(
    tmp_path: Path, vendors: dict[str, tuple[VendorKit, FakeVendor, str]]
) -> Iterator[RunningGateway]:
    environ = {f"UNIGATE_{vendor.upper()}_BASE_URL": base_url for vendor, (_, _, base_url) in vendors.items()}
    config = (
        "[dispatch.retry]\nattempts = 1\n"
        '[admin]\ntoken = "admin-token-0123456789abcdefghij"\n'
        "[server]\nmax_body_bytes = 100000\n"
        '[[routes]]\nmatch = "team/with-fallback"\nprovider = "openai"\nmodel = "gpt-4o-mini"\n'
        'fallbacks = [{ provider = "anthropic", model = "claude-3-haiku-20240307" }]\n'
    )
    server, running = start_gateway(tmp_path, environ, config)
    yield running
    server.stop()


def _client(gateway: RunningGateway, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Key {gateway.key}", "Provider-Key": CANARY, **headers},
        timeout=10,
        transport=httpx.HTTPTransport(socket_options=NODELAY),
    )


def _answer(response: httpx.Response) -> str:
    return f"{response.status_code} {response.headers} {response.text}"


def _run_vendor_scenarios(
    gateway: RunningGateway, vendors: dict[str, tuple[VendorKit, FakeVendor, str]], seen: list[str]
) -> None:
    for vendor, model in VENDOR_MODELS.items():
        kit, fake, _ = vendors[vendor]
        path = f"/models/v2/{model}"
        with _client(gateway) as client:
            for stream in (False, True):
                seen.append(_answer(client.post(path, json={**SEED, "stream": stream})))
            for reply in _failures(kit):
                for stream in (False, True):
                    fake.enqueue(reply)
                    seen.append(_answer(client.post(path, json={**SEED, "stream": stream})))
        assert fake.received, vendor
        assert any(CANARY in str(received.headers) for received in fake.received), vendor


def _run_gateway_scenarios(gateway: RunningGateway, seen: list[str]) -> None:
    model = "/models/v2/openai/gpt-4o-mini"
    with _client(gateway, **{"Provider-Key-Anthropic": CANARY_FALLBACK}) as client:
        seen.append(_answer(client.post("/models/v2/team/with-fallback", json=SEED)))
        seen.append(_answer(client.post(model, content=b"{oops " + CANARY.encode())))
        seen.append(_answer(client.post(model, content=b'{"text": "' + b"x" * 200_000 + b'"}')))
        seen.append(_answer(client.post(model, json=SEED, headers={"X-Pad": CANARY * 200})))
        seen.append(_answer(client.post(model, json={"messages": [], "params": {"api_key": CANARY}})))
        seen.append(
            _answer(client.post(model, json={**SEED, "params": {"base_url": CANARY, "temperature": "x"}}))
        )
        seen.append(_answer(client.post("/models/v2/nowhere/nothing", json=SEED)))
        seen.append(_answer(client.get("/v1/usage")))
        seen.append(
            _answer(client.post("/v1/chat/completions", json={"model": "openai/gpt-4o-mini", **SEED}))
        )
        with client.stream("POST", model, json={**SEED, "stream": True}) as streaming:
            next(streaming.iter_bytes())  # then leave mid-stream
    with httpx.Client(base_url=gateway.url, timeout=10) as anonymous:
        seen.append(
            _answer(
                anonymous.post(model, json=SEED, headers={"Authorization": f"Key {CANARY_BAD_PROXY_KEY}"})
            )
        )
        seen.append(
            _answer(anonymous.get("/admin/keys", headers={"Authorization": f"Bearer {CANARY_ADMIN_GUESS}"}))
        )
        seen.append(_answer(anonymous.get("/admin/keys", headers={"Authorization": f"Bearer {gateway.key}"})))
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(f"POST {model} HTTP/1.1\r\nHost: x\r\nProvider-Key: {CANARY}\x00\r\n\r\n".encode())
        seen.append(raw.recv(65536).decode("latin-1"))


def _database_bytes(gateway: RunningGateway) -> bytes:
    path = sqlite_path(gateway.settings.database_url)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_canaries_never_reach_any_sink(
    canary_gateway: RunningGateway,
    vendors: dict[str, tuple[VendorKit, FakeVendor, str]],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LOUD_LOGGERS:  # the SDKs log request headers at DEBUG: let them
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        seen: list[str] = []
        _run_vendor_scenarios(canary_gateway, vendors, seen)
        _run_gateway_scenarios(canary_gateway, seen)
        time.sleep(0.5)  # let the ledger writer flush
        canary_gateway.gateway.ledger.close()
    finally:
        for name in LOUD_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    secrets = (CANARY, CANARY_FALLBACK, CANARY_ADMIN_GUESS, CANARY_BAD_PROXY_KEY, canary_gateway.key)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    captured = capfd.readouterr()
    sinks = {
        "responses": "\n".join(seen),
        "logs": logs,
        "stdout": captured.out,
        "stderr": captured.err,
        "database": _database_bytes(canary_gateway).decode("latin-1"),
    }
    assert len(caplog.records) > 20  # the SDKs' debug lines are in there
    assert any(" 401 " in line[:8] or line.startswith("401") for line in seen)
    for sink, text in sinks.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:14]}… leaked into {sink}"
            assert secret[:24] not in text, f"a prefix of {secret[:14]}… leaked into {sink}"
    # S13: no stack trace and no internal host name in anything a client got
    for answer in seen:
        assert "Traceback" not in answer and 'File "' not in answer
        assert socket.gethostname() not in answer.split("\r\n\r\n", 1)[-1] or socket.gethostname() in (
            "localhost",
        )


# S2 and the redaction rules, one by one -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "GET https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key=AIzaSyA-secret-123456789 failed",
        "Client error '401' for url 'https://x.test/v1/models?alt=sse&key=plain-secret-value'",
        "{'headers': {'Authorization': 'Bearer some-opaque-token-value', 'x-api-key': 'another-token'}}",
        "provider-key: opaque-provider-secret",
        "Incorrect API key provided: sk-proj-abcdefghijklmnop1234.",
        "bad key ug-0123456789ab-secretsecretsecret",
    ],
)
def test_key_shaped_values_are_redacted(text: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned
    for secret in (
        "secret-123456789",
        "plain-secret-value",
        "opaque-token",
        "another-token",
        "opaque-provider-secret",
        "abcdefghijklmnop1234",
        "secretsecret",
    ):
        assert secret not in cleaned


def test_request_secrets_are_redacted_from_records_with_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("unigate.test")
    remember_secrets(["opaque-value-1234567890"])
    try:
        raise RuntimeError("vendor said: opaque-value-1234567890 is wrong")
    except RuntimeError:
        logger.exception("call failed for %s", {"key": "opaque-value-1234567890"})
    record = caplog.records[-1]
    text = logging.Formatter().format(record)
    assert "opaque-value-1234567890" not in text
    assert "RuntimeError" in text and REDACTED in text
