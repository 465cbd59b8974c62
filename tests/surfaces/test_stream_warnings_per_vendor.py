"""A warning each vendor's adapter raises reaches a streaming client: in the
`Unigate-Warnings` header and as `unigate_warnings` on the stream's first chunk (the adapters
put it on `Start` in one place, adapters/transport.py `decode_stream`).

The warning is the adapter's own: an OpenAI-only parameter (`service_tier`) that another
vendor cannot take, or, for OpenAI itself, a prompt-caching breakpoint it has no field for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import MODELS, openai_client

EPHEMERAL = {"type": "ephemeral"}
CACHED_SYSTEM: Any = [{"type": "text", "text": "Be terse.", "cache_control": EPHEMERAL}]


def _expected(vendor: str) -> str:
    if vendor == "openai":
        return "cache_control is not supported by openai; it was not sent"
    return f"service_tier: openai parameters, not supported by {vendor}; not sent"


def _request(vendor: str) -> dict[str, Any]:
    if vendor == "openai":
        return {"messages": [{"role": "system", "content": CACHED_SYSTEM}, {"role": "user", "content": "hi"}]}
    return {"messages": [{"role": "user", "content": "hi"}], "service_tier": "flex"}


@pytest.mark.parametrize("vendor", sorted(MODELS))
def test_a_streamed_warning_reaches_the_client_from_every_vendor(
    vendor: str, running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODELS[vendor], stream=True, **_request(vendor)
        )
        chunks = list(raw.parse())
    header = raw.headers.get("unigate-warnings")
    assert header is not None, "no Unigate-Warnings header"
    assert json.loads(header) == [_expected(vendor)]
    first, *rest = chunks
    assert (first.model_extra or {}).get("unigate_warnings") == [_expected(vendor)]
    assert all("unigate_warnings" not in (chunk.model_extra or {}) for chunk in rest)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    sent = fakes[vendor].last.body
    assert b"service_tier" not in sent and b"cache_control" not in sent
