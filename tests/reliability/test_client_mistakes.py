"""No 500 for a client's mistake (1d): an absurd `max_tokens` on a budgeted key, on every
surface. 10**309 overflowed the cost estimate's float (a 500); a negative count reserved a
negative amount, freeing budget for the key's other calls. A catalogued model clamps a
too-large value to its max output (with a warning); for a model the catalogue does not
know, and for any negative value, the answer is a 400 and nothing reaches the vendor."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import NODELAY, RunningGateway
from tests.fakes.server import FakeVendor
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import CHAT_ROUTE, KEYS, config

TOO_LARGE: list[Any] = [10**309, 10**4000, 2**31]
NEGATIVE: list[Any] = [-1, -(10**30)]
MESSAGES = [{"role": "user", "content": "Hello"}]
UNCATALOGUED = (
    CHAT_ROUTE
    + '[[routes]]\nmatch = "solo/custom"\nprovider = "openai"\nmodel = "ft:gpt-4o-mini:acme::x1"\n'
    + '[prices."solo/custom"]\ninput = 0.3\noutput = 1.2\n'
)


def _surfaces(model: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"/models/v2/{model}", {"messages": MESSAGES, "params": {"max_tokens": value}}),
        (f"/models/v2/{model}", {"messages": MESSAGES, "params": {"max_new_tokens": value}}),
        ("/v1/chat/completions", {"model": model, "messages": MESSAGES, "max_tokens": value}),
        ("/v1/chat/completions", {"model": model, "messages": MESSAGES, "max_completion_tokens": value}),
        ("/v1/messages", {"model": model, "messages": MESSAGES, "max_tokens": value}),
    ]


def _budgeted(gateway: RunningGateway) -> httpx.Client:
    _, key = gateway.gateway.keys.create("budgeted", budget=1.0)
    return httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {key}", **KEYS},
        timeout=15,
        transport=httpx.HTTPTransport(socket_options=NODELAY),
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("model", "value"),
    [("solo/custom", value) for value in TOO_LARGE]
    + [(model, value) for model in ("solo/custom", "solo/openai") for value in NEGATIVE],
    ids=lambda value: str(value)[:12],
)
def test_an_absurd_max_tokens_on_a_budgeted_key_is_a_400(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, model: str, value: Any
) -> None:
    gateway = make_gateway(config(attempts=1, extra=UNCATALOGUED))
    with _budgeted(gateway) as client:
        for path, body in _surfaces(model, value):
            response = client.post(path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert "invalid_request" in response.text and "max_tokens must be between" in response.text
    assert openai_fake.received == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", TOO_LARGE, ids=lambda value: str(value)[:12])
def test_a_catalogued_model_clamps_an_absurd_max_tokens_instead(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, value: Any
) -> None:
    gateway = make_gateway(config(attempts=1, extra=UNCATALOGUED))
    with _budgeted(gateway) as client:
        for path, body in _surfaces("solo/openai", value):
            response = client.post(path, json=body)
            assert response.status_code == 200, (path, response.text)
    sent = [request.json() for request in openai_fake.received]
    assert len(sent) == 5
    assert all(0 < (body.get("max_completion_tokens") or body["max_tokens"]) <= 2**31 - 1 for body in sent)
