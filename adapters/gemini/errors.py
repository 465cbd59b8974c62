"""Gemini error classification, from the HTTP status and the google.rpc error in the body.

Gemini speaks google.rpc: `{"error": {"code", "message", "status", "details": [...]}}`. The
`status` name and the `ErrorInfo.reason` are the structured type; the one message inspection
is the documented context-length case (a 400 INVALID_ARGUMENT with no reason of its own).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from adapters.errors import error_snippet, parse_retry_after, scrub
from adapters.gemini.wire import WireError, decode_error_body
from schemas.errors import Code, UpstreamError, code_for_status

_BY_STATUS: dict[str, Code] = {
    "INVALID_ARGUMENT": Code.INVALID_REQUEST,
    "OUT_OF_RANGE": Code.INVALID_REQUEST,
    "FAILED_PRECONDITION": Code.PERMISSION,
    "UNAUTHENTICATED": Code.AUTHENTICATION,
    "PERMISSION_DENIED": Code.PERMISSION,
    "NOT_FOUND": Code.NOT_FOUND,
    "RESOURCE_EXHAUSTED": Code.RATE_LIMITED,
    "INTERNAL": Code.SERVER_ERROR,
    "UNKNOWN": Code.SERVER_ERROR,
    "UNAVAILABLE": Code.OVERLOADED,
    "DEADLINE_EXCEEDED": Code.TIMEOUT,
}
"""FAILED_PRECONDITION is what Gemini answers for an account it will not serve (free tier in
an unsupported region, billing not enabled): nothing in the request can fix it."""

_AUTH_REASONS = frozenset(
    {"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED", "CREDENTIALS_MISSING"}
)
"""A bad key is a 400 INVALID_ARGUMENT that only its ErrorInfo reason tells apart."""

_CONTEXT_MARKERS = ("exceeds the maximum number of tokens", "input token count", "context window")


def _status(http_status: int, error: WireError) -> int:
    """The HTTP status, or for an error inside a 200 stream the code the error carries."""
    if http_status != 200:
        return http_status
    return error.code if error.code and error.code != 200 else 500


def parse_retry_delay(value: str | None) -> float | None:
    """A proto Duration in JSON (`"27s"`, `"1.5s"`) as seconds."""
    if not value or not value.endswith("s"):
        return None
    try:
        return max(0.0, float(value[:-1]))
    except ValueError:
        return None


def map_gemini_error(error: WireError, http_status: int) -> Code:
    reasons = {detail.reason for detail in error.details if detail.reason}
    if reasons & _AUTH_REASONS:
        return Code.AUTHENTICATION
    code = _BY_STATUS.get(error.status)
    if code is Code.INVALID_REQUEST and any(marker in error.message.lower() for marker in _CONTEXT_MARKERS):
        return Code.CONTEXT_LENGTH
    if code is not None:
        return code
    return code_for_status(_status(http_status, error))


def classify_gemini_error(
    http_status: int, error: WireError, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    retry_after = parse_retry_after(headers)
    if retry_after is None:
        delays = (parse_retry_delay(detail.retry_delay) for detail in error.details)
        retry_after = next((delay for delay in delays if delay is not None), None)
    text = scrub(error.message or error.status or f"HTTP {http_status}", *secrets)
    return UpstreamError(
        map_gemini_error(error, http_status),
        f"{provider}: {text}",
        provider=provider,
        upstream_status=_status(http_status, error),
        retry_after=retry_after,
    )


def classify_gemini_error_body(
    http_status: int, body: bytes, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    """An error body as Gemini sends it; a body that is not google.rpc JSON (a proxy's HTML page)
    is classified by its status alone."""
    try:
        parsed = decode_error_body(body).error
    except msgspec.DecodeError:
        parsed = None
    if parsed is None:
        message = error_snippet(body, *secrets)
        parsed = WireError(code=http_status, message=message)
    return classify_gemini_error(http_status, parsed, provider, headers, *secrets)
