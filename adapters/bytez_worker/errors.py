"""Bytez model-container errors: any exception inside the container answers 422
`{"error": "<str(exception)>", "stack_trace": "<traceback>"}`. The stack trace is never read
into a message (it names files, hosts and secrets of the worker); only `error` is kept."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec import Struct

from adapters.errors import parse_retry_after, scrub
from schemas.errors import Code, UpstreamError, code_for_status


class WireBytezError(Struct):
    error: str | None = None


_decode = msgspec.json.Decoder(WireBytezError).decode


def classify_bytez_error(
    status: int, body: bytes, provider: str, headers: Mapping[str, str] | None = None
) -> UpstreamError:
    """422 is the container refusing the input (wrong field or type for its task); 503 is a
    container still loading its model: overloaded, so the request fails over to another."""
    try:
        message = _decode(body).error or ""
    except (msgspec.DecodeError, msgspec.ValidationError):
        message = ""
    if not message:
        message = "the model container is loading" if status == 503 else f"HTTP {status}"
    code = code_for_status(status if status != 200 else 422)
    return UpstreamError(
        code,
        f"{provider}: {scrub(message)}",
        provider=provider,
        upstream_status=status,
        retry_after=parse_retry_after(headers or {}),
    )


def broken_reply(provider: str, what: str) -> UpstreamError:
    """A container's 2xx answer that cannot be used as what it claims to be."""
    return UpstreamError(Code.SERVER_ERROR, f"{provider} sent {what}", provider=provider)
