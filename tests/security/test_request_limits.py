"""Bad input is refused before anything reaches a vendor (S3, B2, B3, B5), never with a 500."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from proxy.server.guards import check_json, json_depth
from schemas.errors import GatewayError
from tests.fakes.server import FakeVendor
from tests.security.conftest import MODEL, SEED, VENDOR_KEY, MakeGateway, raw_request, status_of


def _head(gateway_key: str, extra: bytes = b"", length: int | None = None, chunked: bool = False) -> bytes:
    lines = [
        f"POST {MODEL} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        f"Authorization: Key {gateway_key}".encode(),
        f"Provider-Key: {VENDOR_KEY}".encode(),
        b"Content-Type: application/json",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
    head = b"\r\n".join(lines)
    return head + (b"\r\n" + extra if extra else b"") + b"\r\n\r\n"


# S3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"Provider-Key: sk-abc\x00def",
        b"X-Note: one\rtwo",
        b"X-Note: one\ntwo",
        b"Provider-Key: sk-abc\r\n\x00",
    ],
)
def test_header_with_cr_lf_or_nul_is_refused_before_any_upstream_call(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, header: bytes
) -> None:
    gateway = make_gateway()
    body = json.dumps(SEED).encode()
    response = raw_request(gateway.url, _head(gateway.key, header, len(body)) + body)
    assert 400 <= status_of(response) < 500
    assert fake_openai_vendor.received == []


def test_guard_refuses_nul_even_where_the_http_parser_lets_it_through() -> None:
    """h11 already refuses a NUL; the guard holds for servers that would not."""
    from proxy.server.guards import check_headers
    from schemas.config import Config

    with pytest.raises(GatewayError) as caught:
        check_headers([(b"provider-key", b"sk-abc\x00def")], Config())
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"Provider-Key", b"sk-caf\xe9-0123456789"),
        (b"Provider-Key-Anthropic", "sk-ant-\u00fc".encode()),
        (b"Provider-Key-Openai", b"sk-abc\tdef0123456789"),
    ],
)
def test_a_vendor_key_that_is_not_printable_ascii_is_a_400_not_a_500(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, name: bytes, value: bytes
) -> None:
    """No vendor's key holds such bytes, and no HTTP client could send them on: refused
    with the header's name, never its value."""
    gateway = make_gateway()
    body = json.dumps(SEED).encode()
    response = raw_request(gateway.url, _head(gateway.key, name + b": " + value, len(body)) + body)
    assert status_of(response) == 400
    assert b"must be printable ASCII" in response and name.lower() in response.lower()
    assert value not in response and value[3:] not in response
    assert fake_openai_vendor.received == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Provider-Key": "sk-" + "a" * 5000}, 431),
        ({f"X-Pad-{n}": "b" * 3000 for n in range(7)}, 431),
    ],
)
def test_oversized_headers_are_refused_before_any_upstream_call(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, headers: dict[str, str], status: int
) -> None:
    gateway = make_gateway()
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(MODEL, json=SEED, headers=headers)
    assert response.status_code == status
    assert response.json()["code"] == "invalid_request"
    assert fake_openai_vendor.received == []


# B2 ------------------------------------------------------------------------------------


def test_declared_oversized_body_gets_413_without_sending_it(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway("[server]\nmax_body_bytes = 1000\n")
    started = time.monotonic()
    response = raw_request(gateway.url, _head(gateway.key, length=50_000_000))
    assert status_of(response) == 413
    assert b'"code":"payload_too_large"' in response
    assert time.monotonic() - started < 3
    assert fake_openai_vendor.received == []


def test_chunked_body_gets_413_before_it_ends(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    """The body never ends (no terminating chunk): a 413 proves we stopped reading at the cap."""
    gateway = make_gateway("[server]\nmax_body_bytes = 4096\n")
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(_head(gateway.key, chunked=True))
        chunk = b"x" * 1024
        for _ in range(8):
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = connection.recv(65536)
    assert status_of(answer) == 413
    assert fake_openai_vendor.received == []


def test_body_at_the_limit_passes(make_gateway: MakeGateway) -> None:
    body = json.dumps({**SEED, "text": ""}).encode()
    gateway = make_gateway(f"[server]\nmax_body_bytes = {len(body)}\n")
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        assert client.post(MODEL, content=body).status_code == 200
        assert client.post(MODEL, content=body + b" ").status_code == 413


# B3 ------------------------------------------------------------------------------------

DEEP = b'{"text": "hi", "params": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
BAD_BODIES = {
    "deeply nested": DEEP,
    "just past the depth cap": b'{"text": "hi", "params": {"x": ' + b"[" * 64 + b"]" * 64 + b"}}",
    "huge integer": b'{"text": "hi", "params": {"seed": ' + b"9" * 100_000 + b"}}",
    "huge float": b'{"text": "hi", "params": {"temperature": 1e999999}}',
    "invalid utf-8": b'{"text": "hi \xff\xfe"}',
    "lone surrogate escape": b'{"text": "hi \\ud800"}',
    "duplicate key": b'{"text": "hi", "text": "there"}',
    "duplicate nested key": b'{"text": "hi", "params": {"max_tokens": 5, "max_tokens": 9000}}',
    "not json": b"{oops",
    "json array": b"[1, 2]",
    "empty": b"",
    "nul byte": b'{"text": "hi"}\x00',
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_malformed_json_is_a_400_quickly(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, name: str
) -> None:
    gateway = make_gateway()
    started = time.monotonic()
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(MODEL, content=BAD_BODIES[name], headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert "Traceback" not in response.text
    assert time.monotonic() - started < 2
    assert fake_openai_vendor.received == []


def test_nesting_within_the_cap_is_accepted(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor
) -> None:
    gateway = make_gateway()
    nested = b'{"text": "hi", "params": {"x": ' + b"[" * 60 + b"]" * 60 + b"}}"
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        assert client.post(MODEL, content=nested).status_code == 200
    assert fake_openai_vendor.last.json()["x"] is not None


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[[[{{{{", "b": [1, {"c": "\\"]]]"}]}') == 3
    assert json_depth(b"[]") == 1
    assert json_depth(b'"plain"') == 0


def test_depth_check_is_linear_on_a_wide_body() -> None:
    wide = b"[" + b"{}," * 1_000_000 + b"{}]"
    started = time.monotonic()
    check_json(wide, 64)
    assert time.monotonic() - started < 3


# B5 ------------------------------------------------------------------------------------

B5_CASES = [
    ("/models/v2/nowhere/unknown-model", SEED, 404),
    (MODEL, {"messages": []}, 400),
    (MODEL, {"messages": [{"role": "wizard", "content": "hi"}]}, 400),
    (MODEL, {"messages": [{"role": "user"}]}, 400),
    (
        MODEL,
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{no"}}
                    ],
                },
            ]
        },
        400,
    ),
    (
        MODEL,
        {"messages": [{"role": "user", "content": [{"type": "image", "url": "file:///etc/passwd"}]}]},
        400,
    ),
    (MODEL, {"params": {"temperature": "hot"}, "text": "hi"}, 400),
]


@pytest.mark.parametrize(("path", "body", "status"), B5_CASES)
def test_unroutable_or_invalid_requests_never_reach_the_vendor(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, path: str, body: object, status: int
) -> None:
    gateway = make_gateway()
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert fake_openai_vendor.received == []


def test_keep_alive_connection_survives_a_rejected_request(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Key {gateway.key}"}) as client:
        assert client.post(MODEL, content=b"{oops").status_code == 400
        assert client.get("/models/v2/list/tasks").status_code == 200
