"""Cohere error classification, from the HTTP status.

Cohere's error body is `{"id"?, "message"}` with no structured type, so the status decides,
with Cohere's own statuses on top of the common table: 498 (invalid token) is
authentication, 499 (request cancelled) a connection failure worth retrying, 501 (not
implemented for this model) an invalid request no retry can fix. The one message
inspection is the documented context-length case: a 400/422 whose message says the input
has too many tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from adapters.cohere.wire import decode_error
from adapters.errors import error_snippet, parse_retry_after, scrub
from schemas.errors import Code, UpstreamError, code_for_status

PROVIDER = "cohere"

_BY_STATUS: dict[int, Code] = {
    498: Code.AUTHENTICATION,
    499: Code.CONNECTION,
    501: Code.INVALID_REQUEST,
}
_TOO_LONG = re.compile(
    r"too many tokens|context (?:length|window)|prompt is too long"
    r"|maximum (?:context|number of tokens|input)",
    re.IGNORECASE,
)


def cohere_error_message(body: bytes, *secrets: str) -> str:
    try:
        message = decode_error(body).message
    except msgspec.DecodeError:
        return error_snippet(body, *secrets)
    return message or ""


def map_cohere_error_status(status: int, message: str) -> Code:
    code = _BY_STATUS.get(status) or code_for_status(status)
    if code is Code.INVALID_REQUEST and status in (400, 422) and _TOO_LONG.search(message):
        return Code.CONTEXT_LENGTH
    return code


def classify_cohere_error(
    status: int, body: bytes, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    message = cohere_error_message(body, *secrets)
    text = scrub(message or f"HTTP {status}", *secrets)
    return UpstreamError(
        map_cohere_error_status(status, message),
        f"{PROVIDER}: {text}",
        provider=PROVIDER,
        upstream_status=status,
        retry_after=parse_retry_after(headers),
    )
