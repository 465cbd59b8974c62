"""Gemini image output (`gemini-2.5-flash-image` and kin): `generateContent` with
`generationConfig.responseModalities: ["IMAGE"]`, the image back as an `inlineData` part.

A text-to-image task, from the native surface (`text`, `params` into `generationConfig`)
or from `/v1/images/generations` (a `MediaRequest`: `prompt`; `size` "WxH" becomes
`imageConfig.aspectRatio` where Gemini has that ratio; `n` images are `n` calls, one image
each). The answer is in the Bytez shapes (`{"output_png": <base64>}`), which the OpenAI
surface turns into OpenAI's; usage is the tokens Gemini reports, billed at its prices.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, Any

import httpx2
import msgspec
from msgspec import UNSET

from adapters.base import UpstreamCall, task_request
from adapters.media_output import CONTENT_TYPES, read_capped, too_large
from schemas.chat import Usage
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.media import MediaRequest
from schemas.tasks import GeneratedMedia, MediaUsage, RunRequest, RunResponse

if TYPE_CHECKING:
    from adapters.gemini import GeminiAdapter

__all__ = ["from_gemini_image", "run_gemini_image", "to_gemini_image_body"]

MAX_IMAGES = 10
ASPECT_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
"""What `imageConfig.aspectRatio` takes (Gemini image generation guide)."""
_OPENAI_KEPT = frozenset({"prompt", "n", "size", "response_format"})
_encode = msgspec.json.encode
_EXTENSIONS = {content_type: extension for extension, content_type in reversed(CONTENT_TYPES.items())}


def _invalid(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message, provider="gemini")


def aspect_ratio(size: str) -> str:
    """`1024x1792` → `9:16`: the ratio of a WIDTHxHEIGHT size, if Gemini draws it."""
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()) or not int(width) or not int(height):
        raise _invalid(f"size must be WIDTHxHEIGHT (e.g. 1024x1024), not {size[:32]!r}")
    divisor = math.gcd(int(width), int(height))
    ratio = f"{int(width) // divisor}:{int(height) // divisor}"
    if ratio not in ASPECT_RATIOS:
        known = ", ".join(sorted(ASPECT_RATIOS))
        raise _invalid(f"Gemini draws the aspect ratios {known}; {size} is {ratio}")
    return ratio


def to_gemini_image_body(request: RunRequest, warnings: list[str]) -> dict[str, Any]:
    prompt = request.text if request.text is not UNSET else ""
    config: dict[str, Any] = {}
    if isinstance(request, MediaRequest):
        size = request.openai.get("size")
        if isinstance(size, str) and size != "auto":
            config["imageConfig"] = {"aspectRatio": aspect_ratio(size)}
        for name in sorted(request.openai):
            if name not in _OPENAI_KEPT and request.openai[name] is not None:
                warnings.append(f"{name} is not supported by gemini image generation; it was not sent")
    else:
        config.update(request.params)
    config["responseModalities"] = ["IMAGE"]
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": config}


def _broken(what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"gemini sent {what}", provider="gemini")


def from_gemini_image(raw: bytes) -> tuple[GeneratedMedia, Usage]:
    """The first `inlineData` image of the reply, still base64, and the tokens it reports."""
    try:
        reply = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise _broken("a reply that is not valid JSON") from None
    if not isinstance(reply, dict):
        raise _broken("a reply that is not a JSON object")
    usage_data = reply.get("usageMetadata") or {}
    usage = Usage(
        input_tokens=int(usage_data.get("promptTokenCount") or 0),
        output_tokens=int(usage_data.get("candidatesTokenCount") or 0),
    )
    blocked = (reply.get("promptFeedback") or {}).get("blockReason")
    candidates = reply.get("candidates") or []
    if blocked or not candidates:
        reason = blocked or "no candidates"
        raise UpstreamError(Code.CONTENT_FILTER, f"gemini refused the prompt ({reason})", provider="gemini")
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    for part in (candidate.get("content") or {}).get("parts") or []:
        inline = part.get("inlineData") or part.get("inline_data") if isinstance(part, dict) else None
        if isinstance(inline, dict) and isinstance(inline.get("data"), str):
            content_type = str(inline.get("mimeType") or inline.get("mime_type") or "image/png")
            field = f"output_{_EXTENSIONS.get(content_type, 'png')}"
            return GeneratedMedia(field=field, content_type=content_type, data=inline["data"]), usage
    reason = candidate.get("finishReason") or "no image"
    raise UpstreamError(Code.CONTENT_FILTER, f"gemini generated no image ({reason})", provider="gemini")


def _count(request: RunRequest) -> int:
    count = request.openai.get("n", 1) if isinstance(request, MediaRequest) else 1
    if count is None:
        return 1
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES:
        raise _invalid(f"n must be a whole number from 1 to {MAX_IMAGES}")
    return count


async def run_gemini_image(adapter: GeminiAdapter, call: UpstreamCall) -> RunResponse:
    request = task_request(call, adapter.name)
    max_output_bytes = call.max_output_bytes
    if request.task != "text-to-image":
        raise GatewayError(Code.UNSUPPORTED, f"gemini does not run {request.task}", provider="gemini")
    warnings: list[str] = []
    body = _encode(to_gemini_image_body(request, warnings))
    images: list[GeneratedMedia] = []
    usage = Usage()
    for _ in range(_count(request)):
        response = await adapter._send(call, body, stream=False)
        raw = await read_capped(
            response,
            adapter.name,
            max_output_bytes,
            timeout_error=httpx2.TimeoutException,
            transport_error=httpx2.TransportError,
        )
        media, used = from_gemini_image(raw)
        if len(media.data) // 4 * 3 > max_output_bytes:
            raise too_large(adapter.name, max_output_bytes)
        images.append(media)
        usage = Usage(
            input_tokens=usage.input_tokens + used.input_tokens,
            output_tokens=usage.output_tokens + used.output_tokens,
        )
    measured = MediaUsage(images=len(images))
    outputs = [{image.field: image.data} for image in images]
    first = images[0]
    if len(images) == 1 and request.raw_media and not isinstance(request, MediaRequest):
        try:
            content = base64.b64decode(str(first.data), validate=True)
        except (binascii.Error, ValueError):
            raise _broken(f"{first.field} that is not valid base64") from None
        decoded = GeneratedMedia(field=first.field, content_type=first.content_type, data=content)
        return RunResponse(
            output=msgspec.Raw(b"null"), usage=usage, media=decoded, measured=measured, warnings=warnings
        )
    output = msgspec.Raw(_encode(outputs[0] if len(outputs) == 1 else outputs))
    return RunResponse(
        output=output,
        usage=usage,
        media=first if len(images) == 1 else None,
        measured=measured,
        warnings=warnings,
    )
