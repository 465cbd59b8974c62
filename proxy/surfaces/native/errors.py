"""Errors as the client sees them: the envelope, a truthful status, a stable code, no secrets."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import Scope

from proxy.accounting import refusals
from proxy.surfaces.native.encode import encode_envelope
from schemas.errors import ClientDisconnected, Code, GatewayError
from schemas.native import Envelope

log = logging.getLogger("unigate")

_HTTP_CODES = {
    400: Code.INVALID_REQUEST,
    401: Code.AUTHENTICATION,
    403: Code.PERMISSION,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.PAYLOAD_TOO_LARGE,
    429: Code.RATE_LIMITED,
}


def error_envelope(error: GatewayError, request_id: str | None, model: str | None) -> Envelope:
    """The envelope of a failure: the nine keys, `provider` the vendor or worker that
    reported it (null for the gateway's own refusals)."""
    return Envelope(
        error=error.message,
        code=error.code,
        output=None,
        usage=None,
        billing=None,
        provider=error.provider,
        warnings=[],
        id=request_id,
        model=model,
    )


def error_response(error: GatewayError, scope: Scope | None = None) -> Response[bytes]:
    """The answer to a failure; with the request's `scope`, `id` is its request id (the
    `X-Request-Id` header and the ledger row: the call's, or its refusal's) and `model` the
    model id it asked for."""
    request_id = refusals.answer_id() if scope is not None else None
    model = refusals.requested_model(scope) if scope is not None else None
    headers = {}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    if error.retry_after is not None and error.status in (409, 429, 503):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return Response(
        encode_envelope(error_envelope(error, request_id, model)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


def handle_gateway_error(request: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    return error_response(error, request.scope)


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    code = _HTTP_CODES.get(status, Code.INVALID_REQUEST if status < 500 else Code.INTERNAL)
    message = "no such route" if isinstance(error, NotFoundException) else str(error.detail)
    return error_response(GatewayError(code, message, status=status), request.scope)


def handle_client_gone(_: Request[Any, Any, Any], __: ClientDisconnected) -> Response[bytes]:
    """The client left: answer nginx's 499 into the void, without an error log."""
    return Response(b"", status_code=499)


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.url.path)
    return error_response(
        GatewayError(Code.INTERNAL, "internal error; the request id is in X-Request-Id"), request.scope
    )
