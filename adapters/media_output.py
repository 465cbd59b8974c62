"""Generated media, whoever generated it: the Content-Type of each `output_<ext>` field of
the Bytez shapes, and the `[media] max_output_bytes` cap a reply is read under (a Bytez
container's JSON with base64 in it, or an OpenAI-protocol server's reply)."""

from __future__ import annotations

from schemas.errors import Code, GatewayError

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
