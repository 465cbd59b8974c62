"""What a handler is given instead of fetching it: the gateway, and the caller's proxy key.

Litestar's dependency injection (`Provide`) hands them over by parameter name: `gateway`
(registered once by proxy/app.py) and `key`, the caller's `KeyRecord`. `key` is resolved
after `gateway` and before the handler's body runs, so a bad key is refused before the body
is read or the model is routed, and it is looked up once per request: the limit
middleware's lookup, kept in the ASGI scope, is reused (proxy/identity/auth.py).

The native and OpenAI surfaces read `Authorization`; the Anthropic SDK sends `x-api-key`
(2.x sends `Authorization: Bearer`), so those routes register `key` as `key_or_api_key`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from proxy.gateway import Gateway
from proxy.identity.auth import authenticate
from proxy.identity.keys import KeyRecord


async def key_from_authorization(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> KeyRecord:
    return await authenticate(gateway.keys, request.headers.get("authorization"), request.scope)


async def key_from_api_key_or_authorization(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> KeyRecord:
    headers = request.headers
    presented = headers.get("x-api-key") or headers.get("authorization")
    return await authenticate(gateway.keys, presented, request.scope)


KEY = Provide(key_from_authorization)
"""The default `key` dependency, registered on the app."""
KEY_OR_API_KEY = {"key": Provide(key_from_api_key_or_authorization)}
"""`dependencies=` for a route or router the Anthropic SDK calls."""


def constant(value: object) -> Provide:
    """A long-lived part built once (the gateway, the usage report), handed to every handler."""

    def provide() -> object:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)
