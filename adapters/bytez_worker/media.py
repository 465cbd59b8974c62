"""A Bytez container's generated media: the reply read under a size cap, then its
`output_<ext>` field (base64) found. Pure but for the bounded read.

A media-generating container answers `{"output_png": "<base64>"}` (text-to-image,
image-to-image), `{"output_wav": ...}` (text-to-speech, text-to-audio) or
`{"output_mp4": ...}` (text-to-video), as the Bytez SDK examples read it; a container that
uploads its result answers `{"output": "https://..."}` instead, passed on as the URL it is.
The base64 is kept as it came: the gateway's JSON answer re-sends it without decoding, and
only a raw (`"json": false`) answer decodes it once.

A call from one of the OpenAI media endpoints (a `MediaRequest`) is translated here into the
task request the container reads; its reply stays in the Bytez shapes, which the OpenAI
surface turns into OpenAI's (proxy/surfaces/openai/media_encode.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from msgspec import UNSET

from adapters.base import UpstreamCall
from adapters.bytez_worker.response import from_bytez_run
from adapters.errors import scrub
from adapters.media_output import CONTENT_TYPES, too_large
from adapters.media_output import read_capped as read_media_reply
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.media import MediaRequest
from schemas.tasks import GeneratedMedia, RunResponse

if TYPE_CHECKING:
    from adapters.bytez_worker import BytezWorkerAdapter

_encode = msgspec.json.encode
_NULL = msgspec.Raw(b"null")


async def read_capped(response: httpx.Response, provider: str, max_output_bytes: int) -> bytes:
    """A container's reply under the cap (httpx's errors named for the one reader)."""
    return await read_media_reply(
        response,
        provider,
        max_output_bytes,
        timeout_error=httpx.TimeoutException,
        transport_error=httpx.TransportError,
    )


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


# -- the OpenAI media endpoints on a container (schemas/media.py) ------------------------------

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_KEPT = {
    "images": frozenset({"prompt", "n", "size", "response_format"}),
    "speech": frozenset({"input", "voice", "response_format"}),
    "transcriptions": frozenset({"response_format"}),
}
"""OpenAI fields each operation reads here; any other is reported as not sent. A Hugging
Face pipeline has no voice, so `voice` (which the openai SDK always sends) is dropped quietly."""
_QUIET = frozenset({"voice"})
MAX_IMAGES = 10
"""OpenAI's own cap on `n`; a container makes them one call after another."""


def _invalid(message: str, provider: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message, provider=provider)


def to_bytez_media_params(request: MediaRequest, provider: str, warnings: list[str]) -> dict[str, Any]:
    """The container's `params` for an OpenAI media body: `size` "WxH" → `width` / `height`
    (what diffusers pipelines take); the rest of what OpenAI's body may hold is reported."""
    params: dict[str, Any] = {}
    body = request.openai
    transcript = body.get("response_format")
    if request.operation == "transcriptions" and transcript not in (None, "json", "text"):
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{provider} (a Bytez model container) answers a transcript as json or text, "
            f"not {str(transcript)[:32]}",
            provider=provider,
        )
    size = body.get("size")
    if request.operation == "images" and isinstance(size, str) and size != "auto":
        match = _SIZE.match(size)
        if match is None:
            raise _invalid(f"size must be WIDTHxHEIGHT (e.g. 1024x1024), not {size[:32]!r}", provider)
        params["width"], params["height"] = int(match.group(1)), int(match.group(2))
    for name in sorted(body):
        if name not in _KEPT[request.operation] and name not in _QUIET and body[name] is not None:
            warnings.append(f"{name} is not supported by {provider} (a Bytez container); it was not sent")
    return params


def to_bytez_media_body(request: MediaRequest, params: dict[str, Any]) -> dict[str, Any]:
    """`{"text": ...}` for the generators, `{"url" | "base64": ...}` for speech recognition;
    an upload becomes the base64 data URL the container decodes."""
    body: dict[str, Any] = {}
    if request.text is not UNSET:
        body["text"] = request.text
    if request.url is not UNSET:
        body["url"] = request.url
    elif request.base64 is not UNSET:
        body["base64"] = request.base64
    elif request.upload is not None:
        encoded = base64.b64encode(request.upload.data).decode()
        body["base64"] = f"data:{request.upload.content_type};base64,{encoded}"
    if params:
        body["params"] = params
    body["stream"] = False
    return body


def image_count(request: MediaRequest, provider: str) -> int:
    count = request.openai.get("n", 1)
    if count is None:
        return 1
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES:
        raise _invalid(f"n must be a whole number from 1 to {MAX_IMAGES}", provider)
    return count


async def run_bytez_media(
    adapter: BytezWorkerAdapter, call: UpstreamCall, request: MediaRequest
) -> RunResponse:
    """One OpenAI media call on a container: `n` images are `n` runs, one after another
    (a container runs one inference at a time); the answer keeps the container's shapes.
    `request` is `call.request`, narrowed by the adapter's `run`."""
    provider, cap = adapter.name, adapter.max_output_bytes
    warnings: list[str] = []
    body = to_bytez_media_body(request, to_bytez_media_params(request, provider, warnings))

    async def send() -> httpx.Response:
        return await adapter._post(call.base_url, call.timeouts, body, call.headers)

    if request.operation == "transcriptions":
        raw = await read_capped(await send(), provider, cap)
        return RunResponse(output=from_bytez_run(raw, provider), warnings=warnings)
    count = image_count(request, provider) if request.operation == "images" else 1
    outputs: list[Any] = []
    media: GeneratedMedia | None = None
    for _ in range(count):
        raw = await read_capped(await send(), provider, cap)
        media = from_bytez_media(raw, provider, cap, decode=request.raw_media)
        if media is None:  # a container that uploads its result answers a URL
            outputs.append(msgspec.json.decode(from_bytez_run(raw, provider)))
        elif isinstance(media.data, str):
            outputs.append({media.field: media.data})
        del raw
    output = msgspec.Raw(_encode(outputs[0] if len(outputs) == 1 else outputs)) if outputs else _NULL
    return RunResponse(output=output, media=media if count == 1 else None, warnings=warnings)
