"""Media parts for Gemini: `inlineData` for base64, `fileData` for URLs.

Gemini fetches a `fileData.fileUri` itself (Files API URIs, YouTube links, public https
URLs) and wants its media type, which a URL only hints at through its extension. A table,
not `mimetypes`, so the answer does not depend on the host's /etc/mime.types.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from adapters.media import split_data_url

_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "mp3": "audio/mp3",
    "wav": "audio/wav",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "aiff": "audio/aiff",
    "m4a": "audio/m4a",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "mov": "video/mov",
    "avi": "video/avi",
    "flv": "video/x-flv",
    "webm": "video/webm",
    "wmv": "video/wmv",
    "3gp": "video/3gpp",
}

_YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"})


def guess_media_type(url: str) -> str | None:
    """The media type a URL's file extension names; None when it names none we know."""
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    return _BY_EXTENSION.get(name.rsplit(".", 1)[-1].lower())


def to_gemini_inline_data(base64_value: str) -> dict[str, Any]:
    media_type, data = split_data_url(base64_value)
    return {"inlineData": {"mimeType": media_type, "data": data}}


def to_gemini_file_data(url: str) -> dict[str, Any]:
    """A URL part; a data URL given as `url` is inlined, YouTube links go without a type."""
    if url.startswith("data:"):
        return to_gemini_inline_data(url)
    file_data: dict[str, Any] = {"fileUri": url}
    if (urlsplit(url).hostname or "") not in _YOUTUBE_HOSTS:
        media_type = guess_media_type(url)
        if media_type is not None:
            file_data["mimeType"] = media_type
    return {"fileData": file_data}
