"""No 500 for a client's mistake (1d): an absurd `max_tokens` on a budgeted key, on every
surface, is a 400 with a stable code, and nothing reaches the vendor. 10**309 overflowed the
cost estimate's float (a 500); a negative one reserved a negative amount, freeing budget."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import NODELAY
from tests.fakes.server import FakeVendor
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import KEYS, config

ABSURD: list[Any] = [10**309, 10**4000, 2**31, -1, -(10**30)]
MESSAGES = [{"role": "user", "content": "Hello"}]


def _surfaces(value: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/models/v2/solo/openai", {"messages": MESSAGES, "params": {"max_tokens": value}}),
        ("/models/v2/solo/openai", {"messages": MESSAGES, "params": {"max_new_tokens": value}}),
        ("/v1/chat/completions", {"model": "solo/openai", "messages": MESSAGES, "max_tokens": value}),
        (
            "/v1/chat/completions",
            {"model": "solo/openai", "messages": MESSAGES, "max_completion_tokens": value},
        ),
        ("/v1/messages", {"model": "solo/openai", "messages": MESSAGES, "max_tokens": value}),
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", ABSURD, ids=lambda value: str(value)[:12])
def test_an_absurd_max_tokens_on_a_budgeted_key_is_a_400(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, value: Any
) -> None:
    gateway = make_gateway(config(attempts=1))
    _, key = gateway.gateway.keys.create("budgeted", budget=1.0)
    with httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {key}", **KEYS},
        timeout=15,
        transport=httpx.HTTPTransport(socket_options=NODELAY),
    ) as client:
        for path, body in _surfaces(value):
            response = client.post(path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert "invalid_request" in response.text and "max_tokens must be between" in response.text
    assert openai_fake.received == []
