"""A task's media input (`url` / `base64`) checked before any worker is called.

A Bytez container fetches a `url` itself and decodes a `base64` data URL itself, so both go
to it as the client sent them; what the gateway adds is the refusal of what the container
would only fail on later, after its meter had started: a data URL of the wrong kind for the
task (a PDF to speech recognition), base64 that is cut or not base64, a payload past
`[media] max_bytes`, and a `url` whose file name says it is not media of the task's kind
(`.html`, `.pdf`, `.txt`). A URL with no telling extension goes through: only the container
sees its bytes, and its refusal is the answer.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from urllib.parse import urlsplit

from adapters.media import split_data_url
from schemas.errors import Code, GatewayError
from schemas.tasks import MEDIA_INPUT_KINDS

_UNKNOWN = "application/octet-stream"
"""Bytes of no declared or recognisable type: the container decides."""
_EXTRA_TYPES = {".webp": "image/webp", ".flac": "audio/flac", ".m4a": "audio/mp4", ".opus": "audio/ogg"}


def _accepts(kinds: tuple[str, ...], media_type: str) -> bool:
    media_type = media_type.lower()
    return any(media_type == kind or media_type.split("/", 1)[0] == kind for kind in kinds)


def _what(kinds: tuple[str, ...]) -> str:
    return " or ".join(kind if "/" in kind else f"{kind}/*" for kind in kinds)


def _refused(task: str, kinds: tuple[str, ...], media_type: str, where: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED_MEDIA_TYPE, f"{task} takes {_what(kinds)}; {where} is {media_type}")


def url_media_type(url: str) -> str | None:
    """The media type a URL's file name claims, or None when its path names none."""
    path = urlsplit(url).path
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    extension = path[dot:].lower()
    return _EXTRA_TYPES.get(extension) or mimetypes.types_map.get(extension)


def check_media_input(task: str, url: str | None, data_url: str | None, max_bytes: int) -> None:
    kinds = MEDIA_INPUT_KINDS.get(task)
    if kinds is None:
        return
    if url is not None:
        claimed = url_media_type(url)
        if claimed is not None and not _accepts(kinds, claimed):
            raise _refused(task, kinds, claimed, "the url's file")
    if data_url is None:
        return
    media_type, payload = split_data_url(data_url)
    if media_type != _UNKNOWN and not _accepts(kinds, media_type):
        where = "the base64 data URL" if data_url.startswith("data:") else "the base64 payload (sniffed)"
        raise _refused(task, kinds, media_type, where)
    if len(payload) // 4 * 3 > max_bytes:
        raise GatewayError(
            Code.PAYLOAD_TOO_LARGE, f"the base64 media is larger than [media] max_bytes ({max_bytes} bytes)"
        )
    if len(payload) % 4 or not payload:
        raise GatewayError(
            Code.INVALID_REQUEST, "base64: the payload is cut short (its length is not a multiple of 4)"
        )
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise GatewayError(Code.INVALID_REQUEST, "base64: the payload is not valid base64") from None
