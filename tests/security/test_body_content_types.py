"""The body guards (depth, duplicate keys, UTF-8) hold whatever Content-Type the body came
with (B3): every body the gateway reads is parsed as JSON, so a client naming another type
must not walk past them into a decoder that answers 500 or picks one of two values."""

from __future__ import annotations

import pytest

from tests.fakes.server import FakeVendor
from tests.security.conftest import MODEL, VENDOR_KEY, MakeGateway

DEEP = b"[" * 1000 + b"]" * 1000
ENDPOINTS = {
    "native": (MODEL, b'{"text": "hi", "params": {"x": %s}}', b'{"text": "hi", "text": "there"}'),
    "openai": (
        "/v1/chat/completions",
        b'{"model": "openai/gpt-4o-mini", "messages": [], "x": %s}',
        b'{"model": "openai/gpt-4o-mini", "model": "anthropic/claude-3-haiku",'
        b' "messages": [{"role": "user", "content": "hi"}]}',
    ),
    "openai-embeddings": (
        "/v1/embeddings",
        b'{"model": "openai/text-embedding-3-small", "input": %s}',
        b'{"model": "openai/text-embedding-3-small", "input": "a", "input": "b"}',
    ),
    "anthropic": (
        "/v1/messages",
        b'{"model": "openai/gpt-4o-mini", "max_tokens": 5, "messages": %s}',
        b'{"model": "openai/gpt-4o-mini", "max_tokens": 5, "max_tokens": 9000,'
        b' "messages": [{"role": "user", "content": "hi"}]}',
    ),
    "anthropic-count": (
        "/v1/messages/count_tokens",
        b'{"model": "openai/gpt-4o-mini", "messages": %s}',
        b'{"model": "openai/gpt-4o-mini", "model": "x", "messages": []}',
    ),
}
CONTENT_TYPES = [
    "application/xml",
    "application/octet-stream",
    "application/jsonx",
    "multipart/form-data; boundary=x",
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("kind", ["deep", "duplicate", "not utf-8"])
def test_bad_bodies_are_400_whatever_their_content_type(
    make_gateway: MakeGateway, fake_openai_vendor: FakeVendor, endpoint: str, content_type: str, kind: str
) -> None:
    gateway = make_gateway()
    path, deep, duplicate = ENDPOINTS[endpoint]
    body = {"deep": deep % DEEP, "duplicate": duplicate, "not utf-8": deep % b'"\xff\xfe"'}[kind]
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(path, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert "invalid_request" in response.text
    assert "Traceback" not in response.text
    assert fake_openai_vendor.received == []
