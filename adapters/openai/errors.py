"""OpenAI error classification, from status and the structured `error.type` / `error.code`."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from adapters.errors import error_snippet, parse_retry_after, scrub
from adapters.openai.wire import WireError, decode_error_body
from schemas.errors import Code, UpstreamError, code_for_status

_BY_CODE: dict[str, Code] = {
    "context_length_exceeded": Code.CONTEXT_LENGTH,
    "string_above_max_length": Code.CONTEXT_LENGTH,
    "insufficient_quota": Code.QUOTA_EXCEEDED,
    "billing_hard_limit_reached": Code.QUOTA_EXCEEDED,
    "model_not_found": Code.NOT_FOUND,
    "invalid_api_key": Code.AUTHENTICATION,
    "content_filter": Code.CONTENT_FILTER,
    "content_policy_violation": Code.CONTENT_FILTER,
    "rate_limit_exceeded": Code.RATE_LIMITED,
}


def classify_openai_error_body(
    status: int, body: bytes, provider: str, headers: Mapping[str, str], *secrets: str
) -> UpstreamError:
    message = ""
    vendor_code: str | None = None
    try:
        parsed = decode_error_body(body)
    except msgspec.DecodeError:
        parsed = None
        message = error_snippet(body, *secrets)
    if parsed is not None:
        error = parsed.error
        if isinstance(error, WireError):
            message = error.message
            vendor_code = str(error.code) if isinstance(error.code, str) else error.type
        else:
            message = error or parsed.message or ""
            vendor_code = str(parsed.code) if isinstance(parsed.code, str) else parsed.type
    if status == 200 and parsed is not None and isinstance(parsed.code, int):
        status = parsed.code
    code = _BY_CODE.get(vendor_code or "") or code_for_status(status if status != 200 else 500)
    text = scrub(message or f"HTTP {status}", *secrets)
    return UpstreamError(
        code,
        f"{provider}: {text}",
        provider=provider,
        upstream_status=status,
        retry_after=parse_retry_after(headers),
    )
