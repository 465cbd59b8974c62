"""A media call's answer in OpenAI's wire: passed through when an OpenAI-protocol upstream
gave it (`RunResponse.wire == "openai"`), translated from a Bytez container's shapes
otherwise (`{"output_png": <base64>}` → `{"created", "data": [{"b64_json"}]}`, the
`output_wav` bytes as the speech, `{"text"}` as the transcription)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from schemas.errors import Code, UpstreamError
from schemas.media import MediaRequest
from schemas.tasks import RunResponse

_encode = msgspec.json.encode
_decode = msgspec.json.decode
_TEXT_TYPES = {"text": "text/plain; charset=utf-8"}


def _broken(provider: str, what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"{provider} answered {what}", provider=provider)


def _image(output: Any, provider: str) -> dict[str, str]:
    if isinstance(output, str):
        return {"url": output}
    if isinstance(output, dict):
        for name, value in output.items():
            if name.startswith("output_") and isinstance(value, str):
                return {"b64_json": value}
    raise _broken(provider, "no image")


def to_images_response(
    response: RunResponse, request: MediaRequest, provider: str
) -> tuple[bytes, list[str]]:
    """(body, warnings): OpenAI's `ImagesResponse`."""
    if response.wire == "openai":
        return bytes(response.output), []
    output = _decode(response.output)
    images = [_image(item, provider) for item in (output if isinstance(output, list) else [output])]
    warnings = []
    if request.openai.get("response_format") == "url" and any("b64_json" in image for image in images):
        warnings.append(f"{provider} generates images as base64 only; they are in b64_json, not url")
    answer: dict[str, Any] = {"created": int(time.time()), "data": images}
    return _encode(answer), warnings


def to_speech(
    response: RunResponse, request: MediaRequest, provider: str
) -> tuple[bytes | AsyncIterator[bytes], str, list[str]]:
    """(audio, Content-Type, warnings): the bytes as generated, or still coming (relayed
    from OpenAI as it speaks); a container's format is its own."""
    media = response.media
    if media is not None and response.stream is not None:
        return response.stream, media.content_type, []
    if media is None or not isinstance(media.data, bytes):
        raise _broken(provider, "no audio (a URL, or an output that is not sound)")
    warnings = []
    asked = request.openai.get("response_format") or "mp3"  # OpenAI's default
    generated = media.field.removeprefix("output_")
    if response.wire == "bytez" and isinstance(asked, str) and asked != generated:
        warnings.append(f"{provider} generates {media.content_type}; response_format {asked} was not applied")
    return media.data, media.content_type, warnings


def to_transcription(response: RunResponse, request: MediaRequest, provider: str) -> tuple[bytes, str]:
    """(body, Content-Type): `{"text": ...}` (json), or the text alone (text)."""
    media = response.media
    if response.wire == "openai":
        if media is not None and isinstance(media.data, bytes):
            return media.data, media.content_type
        return bytes(response.output), "application/json"
    output = _decode(response.output)
    text = output.get("text") if isinstance(output, dict) else None
    if not isinstance(text, str):
        raise _broken(provider, "no transcript (`output.text`)")
    if request.openai.get("response_format") == "text":
        return text.encode(), _TEXT_TYPES["text"]
    return _encode({"text": text}), "application/json"
