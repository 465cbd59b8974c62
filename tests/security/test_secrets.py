"""Secrets stay secret: a canary Provider-Key never reaches logs, error bodies or the database,
and proxy keys are stored only as hashes."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from proxy.identity.keys import hash_key
from proxy.storage import sqlite_path
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply

CANARY = "sk-canary-7f1e9a3b5c2d4e6f8a0b1c2d3e4f5a6b"
MODEL = "/models/v2/openai/gpt-4o-mini"
SEED = {"messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 10}}


def _database_bytes(gateway: RunningGateway) -> bytes:
    path = sqlite_path(gateway.settings.database_url)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_canary_provider_key_never_leaks(
    gateway: RunningGateway,
    fake_openai_vendor: FakeVendor,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {CANARY}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    replies = [
        None,
        Reply.json(echo, status=401),
        Reply.fixture("openai/error-404.json"),
        Reply.json(
            {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}, status=500
        ),
        Reply(
            status=502,
            headers={"Content-Type": "text/html"},
            body=f"<html>bad gateway {CANARY}</html>".encode(),
        ),
    ]
    bodies: list[str] = []
    with gateway.client(**{"Provider-Key": CANARY}) as client:
        for streamed in (False, True):
            for reply in replies:
                if reply is not None:
                    fake_openai_vendor.enqueue(reply)
                response = client.post(MODEL, json={**SEED, "stream": streamed})
                bodies.append(response.text)
                bodies.append(str(response.headers))
        bodies.append(client.post("/models/v2/openai/gpt-4o-mini", content=b"{oops").text)
    assert fake_openai_vendor.received[0].headers["authorization"] == f"Bearer {CANARY}"
    assert any("invalid_api_key" in body or "authentication" in body for body in bodies)
    for body in bodies:
        assert CANARY not in body
    time.sleep(0.3)  # let the ledger writer flush
    gateway.gateway.ledger.close()
    assert CANARY.encode() not in _database_bytes(gateway)
    captured = capfd.readouterr()
    logs = "\n".join(f"{record.getMessage()} {record.args}" for record in caplog.records)
    for sink in (logs, captured.out, captured.err):
        assert CANARY not in sink
        assert CANARY[:20] not in sink


def test_proxy_key_is_stored_only_hashed(gateway: RunningGateway) -> None:
    with gateway.client(**{"Provider-Key": CANARY}) as client:
        client.post(MODEL, json=SEED)
    gateway.gateway.ledger.close()
    stored = _database_bytes(gateway)
    secret = gateway.key.split("-", 2)[2]  # the secret itself may hold a "-" (urlsafe base64)
    assert gateway.key.encode() not in stored
    assert secret.encode() not in stored
    assert hash_key(gateway.key).encode() in stored


def test_keys_cli_prints_the_key_alone_on_the_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from proxy.cli import main
    from proxy.identity.keys import KeyStore

    config = tmp_path / "config.toml"
    config.write_text("")
    main(["keys", "create", "--name", "me", "--config", str(config)])
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("ug-") and " " not in key
    store = KeyStore(f"sqlite:///{tmp_path / 'unigate.db'}")
    import asyncio

    record = asyncio.run(store.lookup(key))
    assert record is not None and record.name == "me"
    main(["keys", "list", "--config", str(config)])
    listing = capsys.readouterr().out
    assert record.id in listing and key not in listing
    main(["keys", "revoke", record.id, "--config", str(config)])
    store.close()
    assert asyncio.run(KeyStore(f"sqlite:///{tmp_path / 'unigate.db'}").lookup(key)) is None
