"""Generated media, whoever generated it: the Content-Type of each `output_<ext>` field of
the Bytez shapes, and the `[media] max_output_bytes` cap a reply is read under (a Bytez
container's JSON with base64 in it, or an OpenAI-protocol server's reply)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from schemas.errors import Code, GatewayError, UpstreamError

CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
"""`output_<ext>` → the Content-Type of a raw answer."""

DEFAULT_MAX_OUTPUT_BYTES = 32 * 1024 * 1024
"""`[media] max_output_bytes` unless configured (schemas/config.py MediaConfig)."""
_SLACK = 64 * 1024
"""Room in the JSON reply for what surrounds the base64 (keys, other fields)."""


def reply_cap(max_output_bytes: int) -> int:
    """The largest JSON reply that can carry `max_output_bytes` of media as base64."""
    return (max_output_bytes + 2) // 3 * 4 + _SLACK


def too_large(provider: str, max_output_bytes: int) -> GatewayError:
    return GatewayError(
        Code.OUTPUT_TOO_LARGE,
        f"{provider} generated media larger than [media] max_output_bytes ({max_output_bytes} bytes)",
        provider=provider,
    )


class StreamedReply(Protocol):
    """What `read_capped` needs of a streamed reply: httpx's and httpx2's `Response` both fit."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


async def read_capped(
    response: StreamedReply,
    provider: str,
    max_output_bytes: int,
    *,
    timeout_error: type[Exception],
    transport_error: type[Exception],
    encoded: bool = True,
) -> bytes:
    """The reply's body, refused (and the connection closed) as soon as it passes the cap:
    a larger Content-Length is refused before a byte is read. `timeout_error` and `transport_error` are
    the HTTP library's own exception classes (httpx for Bytez containers, httpx2 for the SDKs'
    clients), so one reader serves both. `encoded`: the media comes as base64 in JSON (the cap
    allows for that); else the body is the media itself (`/audio/speech`)."""
    limit = reply_cap(max_output_bytes) if encoded else max_output_bytes
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(provider, max_output_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_large(provider, max_output_bytes)
            chunks.append(chunk)
        return b"".join(chunks)
    except timeout_error:
        raise UpstreamError(Code.TIMEOUT, f"{provider} did not answer in time", provider=provider) from None
    except transport_error:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-reply", provider=provider
        ) from None
    finally:
        await response.aclose()
