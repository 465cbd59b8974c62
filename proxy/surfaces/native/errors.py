"""Errors as the client sees them: the envelope, a truthful status, a stable code, no secrets."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

from schemas.errors import ClientDisconnected, Code, GatewayError
from schemas.native import ErrorEnvelope

log = logging.getLogger("unigate")
_encode = msgspec.json.encode

_HTTP_CODES = {
    400: Code.INVALID_REQUEST,
    401: Code.AUTHENTICATION,
    403: Code.PERMISSION,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.PAYLOAD_TOO_LARGE,
    429: Code.RATE_LIMITED,
}


def error_response(error: GatewayError) -> Response[bytes]:
    envelope = ErrorEnvelope(error=error.message, code=error.code)
    if error.provider is not None:
        envelope.provider = error.provider
    headers = {}
    if error.retry_after is not None and error.status in (409, 429, 503):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return Response(
        _encode(envelope), status_code=error.status, media_type="application/json", headers=headers
    )


def handle_gateway_error(_: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    return error_response(error)


def handle_http_exception(_: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    code = _HTTP_CODES.get(status, Code.INVALID_REQUEST if status < 500 else Code.INTERNAL)
    message = "no such route" if isinstance(error, NotFoundException) else str(error.detail)
    return error_response(GatewayError(code, message, status=status))


def handle_client_gone(_: Request[Any, Any, Any], __: ClientDisconnected) -> Response[bytes]:
    """The client left: answer nginx's 499 into the void, without an error log."""
    return Response(b"", status_code=499)


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.url.path)
    return error_response(GatewayError(Code.INTERNAL, "internal error; the request id is in X-Request-Id"))
