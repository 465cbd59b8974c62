"""Mistral error classification, from the HTTP status and the structured `type`.

Mistral's `type` names the few cases a status cannot tell apart: a 400 `invalid_model` is an
unknown model (not_found), a 429 `service_tier_capacity_exceeded` is Mistral out of capacity
for everyone (overloaded) rather than this caller's rate limit. The context-length case has
no type of its own (`invalid_request_invalid_args` covers any bad argument), so that one is
recognised by the message Mistral documents: "Prompt contains N tokens … too large for
model with M maximum context length".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from adapters.errors import error_snippet, parse_retry_after, scrub
from adapters.mistral.wire import WireMistralError, decode_mistral_error
from schemas.errors import Code, UpstreamError, code_for_status

_BY_TYPE: dict[str, Code] = {
    "invalid_model": Code.NOT_FOUND,
    "rate_limited": Code.RATE_LIMITED,
    "service_tier_capacity_exceeded": Code.OVERLOADED,
}
_CONTEXT_LENGTH = ("too large for model with", "maximum context length")


def _details(details: list[Any]) -> str:
    """FastAPI validation details `[{loc, msg, type}]` as `body.temperature: msg; …`."""
    lines = []
    for detail in details:
        if isinstance(detail, dict):
            location = ".".join(str(part) for part in detail.get("loc") or ())
            text = str(detail.get("msg", ""))
            lines.append(f"{location}: {text}" if location else text)
    return "; ".join(lines)


def _message(error: WireMistralError) -> str:
    message = error.message
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        nested = message.get("detail")
        return _details(nested) if isinstance(nested, list) else str(message.get("message") or "")
    if isinstance(message, list):
        return _details(message)
    if isinstance(error.detail, list):
        return _details(error.detail)
    return error.detail or ""


def _is_context_length(status: int, message: str) -> bool:
    return status in (200, 400) and any(phrase in message for phrase in _CONTEXT_LENGTH)


def classify_mistral_error(
    status: int, body: bytes, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    """`status` 200 means the error arrived inside a successful reply or stream."""
    try:
        error: WireMistralError | None = decode_mistral_error(body)
    except msgspec.DecodeError:
        error = None
    if error is None:
        message = error_snippet(body, *secrets)
        vendor_type = None
    else:
        message = _message(error)
        vendor_type = error.type
        if status == 200 and error.raw_status_code is not None:
            status = error.raw_status_code
    if _is_context_length(status, message):
        code = Code.CONTEXT_LENGTH
    else:
        code = _BY_TYPE.get(vendor_type or "") or code_for_status(status if status != 200 else 500)
    text = scrub(message or f"HTTP {status}", *secrets)
    return UpstreamError(
        code,
        f"{provider}: {text}",
        provider=provider,
        upstream_status=status,
        retry_after=parse_retry_after(headers),
    )
