"""Errors in Anthropic's shape, `{"type": "error", "error": {"type", "message"}}`, with the status
the anthropic SDK maps to its exception classes; an overloaded vendor answers 529, as
Anthropic does (OverloadedError), rather than the 503 the other surfaces use.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from proxy.surfaces.openai.errors import error_headers, gateway_error_from_http
from schemas.anthropic_surface import MessagesErrorAnswer, MessagesErrorBody
from schemas.errors import STATUS, Code, GatewayError

log = logging.getLogger("unigate")
_encode = msgspec.json.encode
OVERLOADED_STATUS = 529

ERROR_TYPES: dict[Code, str] = {
    Code.AUTHENTICATION: "authentication_error",
    Code.PROVIDER_KEY_REQUIRED: "authentication_error",
    Code.QUOTA_EXCEEDED: "billing_error",
    Code.BUDGET_EXCEEDED: "billing_error",
    Code.PERMISSION: "permission_error",
    Code.NOT_FOUND: "not_found_error",
    Code.PAYLOAD_TOO_LARGE: "request_too_large",
    Code.RATE_LIMITED: "rate_limit_error",
    Code.OVERLOADED: "overloaded_error",
    Code.TIMEOUT: "timeout_error",
}
"""Any other code: `invalid_request_error` under a 4xx status, `api_error` under a 5xx."""


def anthropic_error(code: str, message: str, status: int | None = None) -> MessagesErrorAnswer:
    try:
        kind = Code(code)
    except ValueError:
        kind = Code.INTERNAL
    status = status if status is not None else STATUS.get(kind, 500)
    fallback = "api_error" if status >= 500 else "invalid_request_error"
    return MessagesErrorAnswer(MessagesErrorBody(type=ERROR_TYPES.get(kind, fallback), message=message))


def anthropic_error_response(error: GatewayError) -> Response[bytes]:
    status = OVERLOADED_STATUS if error.code is Code.OVERLOADED else error.status
    return Response(
        _encode(anthropic_error(error.code, error.message, error.status)),
        status_code=status,
        media_type="application/json",
        headers=error_headers(error),
    )


def handle_gateway_error(_: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    return anthropic_error_response(error)


def handle_http_exception(_: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    return anthropic_error_response(gateway_error_from_http(error))


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.url.path)
    return anthropic_error_response(GatewayError(Code.INTERNAL, "internal error"))


EXCEPTION_HANDLERS = {
    GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
