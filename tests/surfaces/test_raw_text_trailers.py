"""Raw-text streams (the Bytez SDKs' format) carry their billing in HTTP trailers when the
client sent `TE: trailers`, on a real socket: the chunked body, then the trailer fields."""

from __future__ import annotations

import json
import socket
from decimal import Decimal
from urllib.parse import urlsplit

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.pools.conftest import ledger_rows

BODY = json.dumps({"messages": [{"role": "user", "content": "Hello"}], "stream": True}).encode()


def _exchange(gateway: RunningGateway, extra: str) -> tuple[str, bytes]:
    """The response's head, and everything after it, read until the server closes."""
    address = urlsplit(gateway.url)
    request = (
        f"POST /models/v2/openai/gpt-4o-mini HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Key {gateway.key}\r\nProvider-Key: sk-trailers\r\nlang: python\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n{extra}\r\n"
    ).encode() + BODY
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head.decode(), rest


def _dechunk(raw: bytes) -> tuple[bytes, dict[str, str]]:
    body = b""
    while True:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, raw = body + raw[:size], raw[size + 2 :]
    fields = {}
    for line in raw.split(b"\r\n"):
        if line:
            name, _, value = line.decode().partition(":")
            fields[name.strip().lower()] = value.strip()
    return body, fields


def test_billing_arrives_in_trailers_when_the_client_takes_them(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    head, rest = _exchange(gateway, "TE: trailers\r\n")
    assert head.startswith("HTTP/1.1 200")
    assert "trailer: inference-meter, inference-meter-price, inference-time, inference-cost" in head.lower()
    text, trailers = _dechunk(rest)
    assert text and b"data:" not in text
    assert trailers["inference-meter"] == "tokens"
    assert Decimal(trailers["inference-cost"]) > 0
    (row,) = ledger_rows(gateway)
    assert Decimal(trailers["inference-cost"]) == Decimal(str(row["cost"])), "the ledger has the same figure"


def test_without_te_trailers_the_stream_ends_plainly(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    head, rest = _exchange(gateway, "")
    assert head.startswith("HTTP/1.1 200")
    assert "trailer:" not in head.lower()
    text, trailers = _dechunk(rest)
    assert text and trailers == {}
