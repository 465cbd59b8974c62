"""A Bytez container's generated media: the reply read under a size cap, then its
`output_<ext>` field (base64) found. Pure but for the bounded read.

A media-generating container answers `{"output_png": "<base64>"}` (text-to-image,
image-to-image), `{"output_wav": ...}` (text-to-speech, text-to-audio) or
`{"output_mp4": ...}` (text-to-video), as the Bytez SDK examples read it; a container that
uploads its result answers `{"output": "https://..."}` instead, passed on as the URL it is.
The base64 is kept as it came: the gateway's JSON answer re-sends it without decoding, and
only a raw (`"json": false`) answer decodes it once.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx
import msgspec

from adapters.errors import scrub
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.tasks import GeneratedMedia

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


async def read_capped(response: httpx.Response, provider: str, max_output_bytes: int) -> bytes:
    """The reply's body, refused (and the connection closed) as soon as it passes the cap:
    a larger Content-Length is refused before a byte is read."""
    limit = reply_cap(max_output_bytes)
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
    except httpx.TimeoutException:
        raise UpstreamError(Code.TIMEOUT, f"{provider} did not answer in time", provider=provider) from None
    except httpx.TransportError:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} dropped the connection mid-reply", provider=provider
        ) from None
    finally:
        await response.aclose()


def _broken(provider: str, what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"{provider} sent {what}", provider=provider)


def _media_field(reply: dict[str, Any]) -> tuple[str, str] | None:
    for name, value in reply.items():
        if name.startswith("output_") and name.removeprefix("output_") in CONTENT_TYPES:
            return name, value
    return None


def _from_data_url(value: str, provider: str) -> tuple[str, str, str]:
    header, comma, data = value.partition(",")
    content_type = header[5:].split(";", 1)[0]
    if not comma or ";base64" not in header or not content_type:
        raise _broken(provider, "a data URL that is not base64")
    extension = next((ext for ext, known in CONTENT_TYPES.items() if known == content_type), None)
    field = f"output_{extension}" if extension else "output_media"
    return field, content_type, data


def from_bytez_media(
    raw: bytes, provider: str, max_output_bytes: int, *, decode: bool
) -> GeneratedMedia | None:
    """The media of a media task's reply, or None when the reply carries none (a URL in
    `output`, which the caller passes on as an ordinary output). A worker's `error` is raised.
    `decode` (a raw answer) decodes the base64 here, so a worker's broken base64 is its
    failure inside the attempt (ledger, breaker), never a half-sent answer."""
    try:
        reply = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise _broken(provider, "a reply that cannot be read") from None
    if not isinstance(reply, dict):
        raise _broken(provider, "a reply that is not a JSON object")
    error = reply.get("error")
    if isinstance(error, str) and error:
        raise UpstreamError(Code.INVALID_REQUEST, f"{provider}: {scrub(error)[:300]}", provider=provider)
    found = _media_field(reply)
    output = reply.get("output")
    if found is not None:
        field, data = found
        content_type = CONTENT_TYPES[field.removeprefix("output_")]
    elif isinstance(output, str) and output.startswith("data:"):
        field, content_type, data = _from_data_url(output, provider)
    else:
        return None
    if not isinstance(data, str) or not data:
        raise _broken(provider, f"an empty or non-string {field}")
    if len(data) // 4 * 3 > max_output_bytes:
        raise too_large(provider, max_output_bytes)
    if not decode:
        return GeneratedMedia(field=field, content_type=content_type, data=data)
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _broken(provider, f"{field} that is not valid base64") from None
    if len(content) > max_output_bytes:
        raise too_large(provider, max_output_bytes)
    return GeneratedMedia(field=field, content_type=content_type, data=content)
