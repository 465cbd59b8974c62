"""Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with the status the
openai SDK maps to its exception classes (400 BadRequestError, 401 AuthenticationError, 403
PermissionDeniedError, 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError).

`type` follows OpenAI's names; `code` is our stable code (docs/errors.md), except a context
overflow, which says `context_length_exceeded` as OpenAI does, since clients look for it.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

from schemas.errors import STATUS, Code, GatewayError, code_for_status
from schemas.openai_surface import ErrorAnswer, ErrorBody

log = logging.getLogger("unigate")
_encode = msgspec.json.encode

ERROR_TYPES: dict[Code, str] = {
    Code.AUTHENTICATION: "authentication_error",
    Code.PROVIDER_KEY_REQUIRED: "authentication_error",
    Code.PERMISSION: "permission_error",
    Code.NOT_FOUND: "not_found_error",
    Code.RATE_LIMITED: "rate_limit_error",
    Code.QUOTA_EXCEEDED: "insufficient_quota",
    Code.BUDGET_EXCEEDED: "insufficient_quota",
    Code.OVERLOADED: "api_error",
    Code.SERVER_ERROR: "api_error",
    Code.CONNECTION: "api_error",
    Code.TIMEOUT: "api_error",
    Code.INTERNAL: "server_error",
}
"""Any other code: `invalid_request_error` under a 4xx status, `api_error` under a 5xx."""
_WIRE_CODES = {Code.CONTEXT_LENGTH: "context_length_exceeded"}


def _code(value: str) -> Code:
    try:
        return Code(value)
    except ValueError:
        return Code.INTERNAL


def openai_error(code: str, message: str, status: int | None = None) -> ErrorAnswer:
    kind = _code(code)
    status = status if status is not None else STATUS.get(kind, 500)
    fallback = "api_error" if status >= 500 else "invalid_request_error"
    return ErrorAnswer(
        ErrorBody(
            message=message,
            type=ERROR_TYPES.get(kind, fallback),
            code=_WIRE_CODES.get(kind, kind.value),
        )
    )


def error_headers(error: GatewayError) -> dict[str, str]:
    if error.retry_after is not None and error.status in (409, 429, 503, 529):
        return {"Retry-After": str(max(1, round(error.retry_after)))}
    return {}


def openai_error_response(error: GatewayError) -> Response[bytes]:
    return Response(
        _encode(openai_error(error.code, error.message, error.status)),
        status_code=error.status,
        media_type="application/json",
        headers=error_headers(error),
    )


def gateway_error_from_http(error: HTTPException) -> GatewayError:
    """Litestar's own refusals (no route, wrong method, body too large) as gateway errors."""
    status = error.status_code
    if isinstance(error, NotFoundException):
        return GatewayError(Code.NOT_FOUND, "no such route", status=404)
    if status == 413:
        return GatewayError(Code.PAYLOAD_TOO_LARGE, str(error.detail), status=413)
    if status == 405:
        return GatewayError(Code.METHOD_NOT_ALLOWED, str(error.detail), status=405)
    code = code_for_status(status) if status < 500 else Code.INTERNAL
    return GatewayError(code, str(error.detail), status=status)


def handle_gateway_error(_: Request[Any, Any, Any], error: GatewayError) -> Response[bytes]:
    return openai_error_response(error)


def handle_http_exception(_: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    return openai_error_response(gateway_error_from_http(error))


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.url.path)
    return openai_error_response(GatewayError(Code.INTERNAL, "internal error"))


EXCEPTION_HANDLERS = {
    GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
