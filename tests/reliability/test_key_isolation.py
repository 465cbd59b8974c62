"""The bare `Provider-Key` goes only to the vendor of the route's first target, by its place
in the route (S5): never to a fallback vendor that became "first" because the first target's
breaker is open, because a context-length failure restarted the attempts at the route's
`context_fallback`, or because the request named its own `fallbacks`. Each test asserts on
what the fake vendors received."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schemas.errors import Code
from tests.conftest import NODELAY, RunningGateway
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    ANTHROPIC_KEY,
    ANTHROPIC_MODEL,
    BODY,
    CHAT,
    CHAT_ROUTE,
    OPENAI_KEY,
    config,
)

ROUTES = (
    CHAT_ROUTE
    + f"""
[[routes]]
match = "team/long"
provider = "openai"
model = "gpt-4o-mini"
context_fallback = {{ provider = "anthropic", model = "{ANTHROPIC_MODEL}" }}

[[routes]]
match = "team/claude"
provider = "anthropic"
model = "{ANTHROPIC_MODEL}"
fallbacks = [{{ provider = "openai", model = "gpt-4o-mini" }}]

[[routes]]
match = "team/audio"
provider = "anthropic"
model = "claude-3-haiku-20240307"
fallbacks = [{{ provider = "openai", model = "gpt-5-nano" }}]

[[routes]]
match = "team/embed"
provider = "openai"
model = "text-embedding-3-small"
fallbacks = [{{ provider = "anthropic", model = "{ANTHROPIC_MODEL}" }}]
"""
)
BREAKER = ("openai", "gpt-4o-mini")


def post(gateway: RunningGateway, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with httpx.Client(
        base_url=gateway.url, timeout=15, transport=httpx.HTTPTransport(socket_options=NODELAY)
    ) as http:
        return http.post(path, json=body, headers={"Authorization": f"Key {gateway.key}", **headers})


def keys_received(vendor: FakeVendor) -> list[str]:
    """Every key the vendor was sent, however it was sent."""
    seen = []
    for received in vendor.received:
        for name in ("authorization", "x-api-key"):
            if name in received.headers:
                seen.append(received.headers[name].removeprefix("Bearer "))
    return seen


def open_openai_breaker(gateway: RunningGateway, openai_fake: FakeVendor) -> None:
    """One vendor fault opens it (consecutive_failures = 1); the call names only solo/openai."""
    openai_fake.enqueue(OPENAI.errors[Code.SERVER_ERROR])
    assert post(gateway, "/models/v2/solo/openai", BODY, **{"Provider-Key": OPENAI_KEY}).status_code == 502
    assert gateway.gateway.dispatcher.breakers.is_open(BREAKER)


def gateway_with_open_breaker(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> RunningGateway:
    gateway = make_gateway(config(attempts=1, consecutive_failures=1, open_seconds=30, extra=ROUTES))
    open_openai_breaker(gateway, openai_fake)
    openai_fake.clear()
    return gateway


@pytest.mark.timeout(30)
def test_an_open_breaker_never_hands_the_bare_key_to_the_fallback_vendor(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = gateway_with_open_breaker(make_gateway, openai_fake)
    response = post(gateway, CHAT, BODY, **{"Provider-Key": OPENAI_KEY})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "provider_key_required"
    assert "Provider-Key-Anthropic" in response.json()["error"]
    assert anthropic_fake.received == []  # skipped: it has no key of its own
    assert OPENAI_KEY not in response.text
    # with its own key the fallback serves the request, and gets only that key
    response = post(
        gateway, CHAT, BODY, **{"Provider-Key": OPENAI_KEY, "Provider-Key-Anthropic": ANTHROPIC_KEY}
    )
    assert response.status_code == 200, response.text
    assert keys_received(anthropic_fake) == [ANTHROPIC_KEY]
    assert openai_fake.received == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_cross_vendor_context_fallback_gets_only_its_own_key(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor, streamed: bool
) -> None:
    gateway = make_gateway(config(attempts=1, extra=ROUTES))
    body = {**BODY, "stream": streamed}
    openai_fake.enqueue(OPENAI.errors[Code.CONTEXT_LENGTH])
    response = post(gateway, "/models/v2/team/long", body, **{"Provider-Key": OPENAI_KEY})
    assert response.status_code == 400, response.text
    assert "context_length" in response.text  # the vendor's own failure, not a key error
    assert anthropic_fake.received == []
    openai_fake.enqueue(OPENAI.errors[Code.CONTEXT_LENGTH])
    headers = {"Provider-Key": OPENAI_KEY, "Provider-Key-Anthropic": ANTHROPIC_KEY}
    response = post(gateway, "/models/v2/team/long", body, **headers)
    assert response.status_code == 200, response.text
    assert keys_received(anthropic_fake) == [ANTHROPIC_KEY]
    assert keys_received(openai_fake) == [OPENAI_KEY, OPENAI_KEY]


@pytest.mark.timeout(30)
def test_request_level_fallbacks_never_get_the_bare_key(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = gateway_with_open_breaker(make_gateway, openai_fake)
    body = {**BODY, "fallbacks": [f"anthropic/{ANTHROPIC_MODEL}"]}
    response = post(gateway, "/models/v2/solo/openai", body, **{"Provider-Key": OPENAI_KEY})
    assert response.status_code == 401, response.text
    assert anthropic_fake.received == []
    response = post(
        gateway,
        "/models/v2/solo/openai",
        body,
        **{"Provider-Key": OPENAI_KEY, "Provider-Key-Anthropic": ANTHROPIC_KEY},
    )
    assert response.status_code == 200, response.text
    assert keys_received(anthropic_fake) == [ANTHROPIC_KEY]


@pytest.mark.timeout(30)
def test_a_route_whose_first_target_is_anthropic_gives_it_the_bare_key_and_openai_its_own(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, extra=ROUTES))
    anthropic_fake.enqueue(Reply.json({"type": "error", "error": {"type": "api_error", "message": "x"}}, 500))
    headers = {"Provider-Key": ANTHROPIC_KEY, "Provider-Key-OpenAI": OPENAI_KEY}
    response = post(gateway, "/models/v2/team/claude", BODY, **headers)
    assert response.status_code == 200, response.text
    assert keys_received(anthropic_fake) == [ANTHROPIC_KEY]
    assert keys_received(openai_fake) == [OPENAI_KEY]


@pytest.mark.timeout(30)
def test_embeddings_send_the_bare_key_to_the_first_target_only(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = gateway_with_open_breaker(make_gateway, openai_fake)
    response = post(
        gateway, "/v1/embeddings", {"model": "team/embed", "input": "hello"}, **{"Provider-Key": OPENAI_KEY}
    )
    assert response.status_code == 200, response.text
    assert [r.path for r in openai_fake.received] == ["/v1/embeddings"]
    assert keys_received(openai_fake) == [OPENAI_KEY]
    assert anthropic_fake.received == []


@pytest.mark.timeout(30)
def test_count_tokens_sends_the_bare_key_to_anthropic_only_when_it_is_the_first_target(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=1, extra=ROUTES))
    messages = [{"role": "user", "content": "hi"}]

    def count(model: str) -> httpx.Response:
        with httpx.Client(base_url=gateway.url, timeout=15) as http:
            return http.post(
                "/v1/messages/count_tokens",
                json={"model": model, "messages": messages},
                headers={"x-api-key": gateway.key, "Provider-Key": OPENAI_KEY},
            )

    response = count("team/chat")  # openai first, anthropic behind it: an estimate, no call
    assert response.status_code == 200, response.text
    assert response.headers["Token-Count"] == "estimated"
    assert anthropic_fake.received == [] and openai_fake.received == []
    anthropic_fake.enqueue(Reply.json({"input_tokens": 12}))
    response = count("team/claude")  # anthropic first: the bare key is Anthropic's
    assert response.json() == {"input_tokens": 12}
    assert [r.path for r in anthropic_fake.received] == ["/v1/messages/count_tokens"]
    assert keys_received(anthropic_fake) == [OPENAI_KEY]  # the caller said it was Anthropic's


@pytest.mark.timeout(30)
def test_a_first_target_dropped_for_a_capability_keeps_the_bare_key(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    """claude-3-haiku takes no audio (the catalogue says so), so the plan drops it and the
    OpenAI fallback is the only target left: the bare key is still Anthropic's."""
    gateway = make_gateway(config(attempts=1, extra=ROUTES))
    audio = {"type": "audio", "base64": "data:audio/wav;base64,UklGRiQAAABXQVZF"}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, audio]}]}
    response = post(gateway, "/models/v2/team/audio", body, **{"Provider-Key": ANTHROPIC_KEY})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "provider_key_required"
    assert openai_fake.received == [] and anthropic_fake.received == []
    headers = {"Provider-Key": ANTHROPIC_KEY, "Provider-Key-OpenAI": OPENAI_KEY}
    post(gateway, "/models/v2/team/audio", body, **headers)
    assert keys_received(openai_fake) == [OPENAI_KEY]
    assert anthropic_fake.received == []
