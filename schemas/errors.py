"""The error tree and its closed set of stable codes.

    GatewayError                 any failure answered to a client (code, status, message)
     └── UpstreamError           a failure a vendor or worker reported, classified by its adapter

Codes are snake_case and never change meaning; docs/errors.md lists them. An upstream
error's kind decides both the HTTP status we answer with and whether it may be retried.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # kinds an upstream failure is classified into
    INVALID_REQUEST = "invalid_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    # the gateway's own
    PROVIDER_KEY_REQUIRED = "provider_key_required"
    UNSUPPORTED = "unsupported"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    OUTPUT_TOO_LARGE = "output_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    SHUTTING_DOWN = "shutting_down"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BUDGET_EXCEEDED = "budget_exceeded"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    INTERNAL = "internal_error"


STATUS: dict[Code, int] = {
    Code.INVALID_REQUEST: 400,
    Code.CONTEXT_LENGTH: 400,
    Code.CONTENT_FILTER: 400,
    Code.AUTHENTICATION: 401,
    Code.PERMISSION: 403,
    Code.NOT_FOUND: 404,
    Code.RATE_LIMITED: 429,
    Code.QUOTA_EXCEEDED: 402,
    Code.OVERLOADED: 503,
    Code.SERVER_ERROR: 502,
    Code.TIMEOUT: 504,
    Code.CONNECTION: 502,
    Code.PROVIDER_KEY_REQUIRED: 401,
    Code.UNSUPPORTED: 400,
    Code.PAYLOAD_TOO_LARGE: 413,
    Code.OUTPUT_TOO_LARGE: 413,
    Code.UNSUPPORTED_MEDIA_TYPE: 415,
    Code.SHUTTING_DOWN: 503,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.BUDGET_EXCEEDED: 402,
    Code.IDEMPOTENCY_CONFLICT: 409,
    Code.LEDGER_UNAVAILABLE: 503,
    Code.INTERNAL: 500,
}

RETRYABLE = frozenset({Code.RATE_LIMITED, Code.OVERLOADED, Code.SERVER_ERROR, Code.TIMEOUT, Code.CONNECTION})


class GatewayError(Exception):
    """A failure answered to the client with a stable code and a truthful status."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        status: int | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS[code]
        self.provider = provider
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


class ClientDisconnected(Exception):
    """The client left before its answer was ready; the upstream call has been cancelled.

    Nothing is sent (there is nobody to send it to) and nothing is logged as an error."""


class UpstreamError(GatewayError):
    """A vendor or worker said no; `upstream_status` is what it answered (None: no answer)."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        provider: str,
        upstream_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, provider=provider, retry_after=retry_after)
        self.upstream_status = upstream_status


def code_for_status(status: int) -> Code:
    """The kind an HTTP status means when the vendor gave nothing more specific."""
    if status in (400, 422):
        return Code.INVALID_REQUEST
    if status == 401:
        return Code.AUTHENTICATION
    if status == 402:
        return Code.QUOTA_EXCEEDED
    if status == 403:
        return Code.PERMISSION
    if status == 404:
        return Code.NOT_FOUND
    if status == 413:
        return Code.CONTEXT_LENGTH
    if status in (408, 504):
        return Code.TIMEOUT
    if status == 429:
        return Code.RATE_LIMITED
    if status in (503, 529):
        return Code.OVERLOADED
    if status >= 500:
        return Code.SERVER_ERROR
    return Code.INVALID_REQUEST
