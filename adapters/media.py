"""Inline media: data URLs split into their media type and base64 payload."""

from __future__ import annotations

import base64
import binascii

from schemas.errors import Code, GatewayError

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "image/webp"),
    (b"%PDF", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
)


def sniff_media_type(data: str) -> str:
    """The media type of a bare base64 payload, from its first bytes."""
    try:
        head = base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4), validate=False)
    except (binascii.Error, ValueError):
        head = b""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            if media_type == "image/webp" and b"WAVE" in head[:12]:
                return "audio/wav"
            return media_type
    return "application/octet-stream"


def split_data_url(value: str) -> tuple[str, str]:
    """`data:image/png;base64,AAAA` → (`image/png`, `AAAA`); a bare payload is sniffed."""
    if not value.startswith("data:"):
        return sniff_media_type(value), value
    header, comma, data = value.partition(",")
    if not comma or ";base64" not in header:
        raise GatewayError(Code.INVALID_REQUEST, "base64 media must be a data URL: data:<type>;base64,<data>")
    media_type = header[5:].split(";", 1)[0] or "application/octet-stream"
    return media_type, data


def to_data_url(value: str) -> str:
    """A data URL for a value that may be a bare base64 payload."""
    if value.startswith("data:"):
        return value
    return f"data:{sniff_media_type(value)};base64,{value}"
