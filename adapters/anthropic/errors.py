"""Anthropic error classification, from the structured `error.type` first and the status second.

Anthropic names every failure in `{"type": "error", "error": {"type", "message"}}`, in an
error response and in an `event: error` inside a 200 stream alike. The one kind that needs
the message is context length: Anthropic reports an over-long prompt as a plain
`invalid_request_error` ("prompt is too long: 208367 tokens > 200000 maximum").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from adapters.anthropic.wire import WireError, decode_error_body
from adapters.errors import error_snippet, parse_retry_after, scrub
from schemas.errors import Code, UpstreamError, code_for_status

_BY_TYPE: dict[str, Code] = {
    "invalid_request_error": Code.INVALID_REQUEST,
    "authentication_error": Code.AUTHENTICATION,
    "billing_error": Code.QUOTA_EXCEEDED,
    "permission_error": Code.PERMISSION,
    "not_found_error": Code.NOT_FOUND,
    "request_too_large": Code.CONTEXT_LENGTH,
    "rate_limit_error": Code.RATE_LIMITED,
    "timeout_error": Code.TIMEOUT,
    "api_error": Code.SERVER_ERROR,
    "overloaded_error": Code.OVERLOADED,
}
"""`request_too_large` (413, a body over the byte limit) follows the shared status rule for 413."""

_TOO_LONG = re.compile(r"prompt is too long|exceeds? (?:the )?context (?:limit|window)", re.IGNORECASE)


def classify_anthropic_error(
    status: int, error: WireError | None, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    """`status` is the HTTP status, or 200 for an error that arrived inside a stream."""
    message = error.message if error is not None else ""
    code = _BY_TYPE.get(error.type or "") if error is not None else None
    if code is None:
        code = code_for_status(status if status >= 400 else 500)
    if code is Code.INVALID_REQUEST and _TOO_LONG.search(message):
        code = Code.CONTEXT_LENGTH
    text = scrub(message or f"HTTP {status}", *secrets)
    return UpstreamError(
        code,
        f"{provider}: {text}",
        provider=provider,
        upstream_status=status,
        retry_after=parse_retry_after(headers),
    )


def classify_anthropic_error_body(
    status: int, body: bytes, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    """An error response body; one that is not Anthropic's JSON (a proxy's HTML page) is
    classified by status and quoted."""
    try:
        parsed = decode_error_body(body)
    except msgspec.DecodeError:
        snippet = error_snippet(body, *secrets)
        return classify_anthropic_error(status, WireError(message=snippet), provider, headers, *secrets)
    return classify_anthropic_error(status, parsed.error, provider, headers, *secrets)
