"""What every compatible-surface handler does before it speaks its own wire: read the body,
route, and open the call's context, exactly as the native surface does (the gateway and the
caller's key arrive by dependency injection: proxy/front_door.py).

Shared by the OpenAI and Anthropic surfaces; each renders the errors raised here its own way.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from proxy import observability as observe
from proxy.dispatch.call import CallContext, open_call
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.routing.routes import Resolution
from schemas.errors import Code, GatewayError

_decode_json = msgspec.json.decode
T = TypeVar("T")


def invalid(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message)


def read_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise invalid("the request body is empty; send a JSON object")
    try:
        value = _decode_json(raw)
    except msgspec.DecodeError:
        raise invalid("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid("the request body must be a JSON object")
    return value


def convert(value: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as error:
        raise invalid(f"invalid body: {error}") from None


def resolve(gateway: Gateway, model_id: str) -> Resolution:
    observe.noted_model(model_id)  # the model of a refusal's ledger row from here on
    resolution = gateway.router.resolve(model_id)
    if resolution is None:
        raise GatewayError(Code.NOT_FOUND, f"no route for model {model_id!r}")
    return resolution


def first_provider(resolution: Resolution) -> str | None:
    """The vendor of the route's first target (None for a worker pool)."""
    return resolution.targets[0].provider


def call_context(key: KeyRecord, model_id: str, request: Request[Any, Any, Any]) -> CallContext:
    """Only once the body has been read: the disconnect watch reads the request's ASGI channel."""
    return open_call(key, model_id, request.headers, request.receive)
