"""OpenAI's media endpoints (`/images/generations`, `/audio/speech`, `/audio/transcriptions`)
through the official SDK, for OpenAI itself and for OpenAI-protocol workers (LocalAI,
vLLM's transcription endpoint, Speaches).

Two callers, two shapes:
- a `MediaRequest` (the OpenAI surface's media endpoints): the client's OpenAI body is
  passed through with only `model` rewritten to the upstream name, and the reply comes back
  as it came (`wire = "openai"`), so every field a client sent or a vendor answered survives;
- a plain `RunRequest` (the native surface, `POST /models/v2/openai/gpt-image-1`): the task's
  `text` / `base64` and its `params` become the OpenAI body, and the reply is turned into the
  Bytez shapes the native surface answers (`{"output_png": ...}`, `{"text": ...}`).

Either way the reply is read under the `[media] max_output_bytes` cap, and what the vendor
bills by is measured (images, size and quality, audio seconds, characters) for metering.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import httpx2
import msgspec
import openai
from msgspec import UNSET

from adapters.base import UpstreamCall, task_request
from adapters.media import split_data_url
from adapters.media_output import CONTENT_TYPES, read_capped, too_large
from adapters.openai.speech_events import from_speech_events, reports_speech_usage
from adapters.openai.speech_relay import start_relay
from schemas.chat import Usage
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.media import OPENAI_PATHS, TASK_OPERATIONS, MediaRequest, Upload
from schemas.tasks import GeneratedMedia, MediaUsage, RunRequest, RunResponse

if TYPE_CHECKING:
    from adapters.openai import OpenAIAdapter

__all__ = ["run_openai_media", "to_openai_media_body"]

_encode = msgspec.json.encode
_decode = msgspec.json.decode
_EXTENSIONS = {content_type: extension for extension, content_type in reversed(CONTENT_TYPES.items())}
_SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""`response_format` of `/audio/speech` → the type a vendor that sends none would mean."""
_TEXT_FORMATS = frozenset({"text", "srt", "vtt"})


def _broken(provider: str, what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"{provider} sent {what}", provider=provider)


# -- request ---------------------------------------------------------------------------------


def _upload_from(request: RunRequest) -> Upload:
    """A native ASR call's audio, from its `base64` data URL (checked by the surface)."""
    if request.base64 is UNSET:
        raise GatewayError(
            Code.UNSUPPORTED,
            "OpenAI's transcription endpoint takes the audio itself: send it as `base64` (a data URL)",
        )
    content_type, payload = split_data_url(request.base64)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise GatewayError(Code.INVALID_REQUEST, "base64: the payload is not valid base64") from None
    extension = _EXTENSIONS.get(content_type, content_type.rpartition("/")[2] or "bin")
    return Upload(filename=f"audio.{extension}", content_type=content_type, data=data)


def to_openai_media_body(request: RunRequest, model: str) -> tuple[str, dict[str, Any], Upload | None]:
    """(operation, body, upload) of the OpenAI call that runs `request` on `model`."""
    if isinstance(request, MediaRequest):
        return request.operation, {**request.openai, "model": model}, request.upload
    operation = TASK_OPERATIONS.get(request.task)
    if operation is None:
        raise GatewayError(Code.UNSUPPORTED, f"OpenAI's media endpoints do not run {request.task}")
    text = request.text if request.text is not UNSET else ""
    params = dict(request.params)
    if operation == "images":
        body = {**params, "model": model, "prompt": text}
        if model.startswith("dall-e") and "response_format" not in params:
            body["response_format"] = "b64_json"  # GPT Image models always answer base64
        return operation, body, None
    if operation == "speech":
        return operation, {"voice": "alloy", **params, "model": model, "input": text}, None
    return operation, {**params, "model": model, "response_format": "json"}, _upload_from(request)


# -- transport -------------------------------------------------------------------------------


async def _read_capped(
    response: httpx2.Response, provider: str, max_output_bytes: int, *, encoded: bool
) -> bytes:
    return await read_capped(
        response,
        provider,
        max_output_bytes,
        timeout_error=httpx2.TimeoutException,
        transport_error=httpx2.TransportError,
        encoded=encoded,
    )


async def _send(
    adapter: OpenAIAdapter, call: UpstreamCall, path: str, body: dict[str, Any], upload: Upload | None
) -> httpx2.Response:
    if upload is None:
        return await adapter._post(call, path, _encode(body), stream=True)
    # A multipart upload goes through the SDK's own `post()`, which writes the form.
    timeout = httpx2.Timeout(call.timeouts.total, connect=call.timeouts.connect)
    headers = {
        **call.headers,
        "Authorization": f"Bearer {call.api_key}",
        "Content-Type": "multipart/form-data",
    }
    fields = {name: _form_value(value) for name, value in body.items() if value is not None}
    try:
        return await adapter._client(call.base_url).post(
            path,
            cast_to=httpx2.Response,
            body=fields,
            files=[("file", (upload.filename, upload.data, upload.content_type))],
            options={"headers": headers, "timeout": timeout},
            stream=True,
        )
    except openai.APIError as error:
        raise adapter._classify(error, call) from None


def _form_value(value: Any) -> Any:
    """A form field as the SDK sends it: lists stay lists (`timestamp_granularities[]`),
    other values their JSON text (`0.2`, `true`) or the string itself."""
    if isinstance(value, str | list):
        return value
    return _encode(value).decode()


async def run_openai_media(adapter: OpenAIAdapter, call: UpstreamCall) -> RunResponse:
    request = task_request(call, adapter.name)
    max_output_bytes = call.max_output_bytes
    operation, body, upload = to_openai_media_body(request, call.model)
    events = operation == "speech" and reports_speech_usage(adapter.name, call.model)
    sent = {**body, "stream_format": "sse"} if events else body
    response = await _send(adapter, call, OPENAI_PATHS[operation], sent, upload)
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if (
        operation == "speech"
        and not events
        and adapter.name == "openai"
        and isinstance(request, MediaRequest)
    ):
        audio = await start_relay(response, adapter.name, max_output_bytes)
        answer = from_openai_speech(b"", content_type, body, as_base64=False)
        answer.stream = audio
        return answer
    raw = await _read_capped(
        response, adapter.name, max_output_bytes, encoded=operation != "speech" or events
    )
    native = not isinstance(request, MediaRequest)
    if operation == "images":
        answer = from_openai_images(raw, body, adapter.name, native, max_output_bytes)
        if native and request.raw_media:
            return raw_image(answer, adapter.name, max_output_bytes)
        return answer
    if operation == "speech":
        usage = Usage()
        if events:
            raw, usage = from_speech_events(raw, adapter.name, max_output_bytes)
            content_type = ""  # the events' type; the audio's is the asked format's
        answer = from_openai_speech(raw, content_type, body, native and not request.raw_media)
        answer.usage = usage
        return answer
    return from_openai_transcription(raw, content_type, body, adapter.name, native)


# -- response --------------------------------------------------------------------------------


def _json_object(raw: bytes, provider: str) -> dict[str, Any]:
    try:
        reply = _decode(raw)
    except msgspec.DecodeError:
        raise _broken(provider, "a reply that is not valid JSON") from None
    if not isinstance(reply, dict):
        raise _broken(provider, "a reply that is not a JSON object")
    return reply


def _token_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0), output_tokens=int(usage.get("output_tokens") or 0)
    )


def from_openai_images(
    raw: bytes, body: dict[str, Any], provider: str, native: bool, max_output_bytes: int
) -> RunResponse:
    """`{created, data: [{b64_json | url, revised_prompt?}], usage?, size?, quality?}`; an
    image past the cap is refused, passed through or not."""
    reply = _json_object(raw, provider)
    data = reply.get("data")
    if not isinstance(data, list) or not data:
        raise _broken(provider, "an image reply with no images")
    for image in data:
        encoded = image.get("b64_json") if isinstance(image, dict) else None
        if isinstance(encoded, str) and len(encoded) // 4 * 3 > max_output_bytes:
            raise too_large(provider, max_output_bytes)
    measured = MediaUsage(  # OpenAI's defaults where neither the reply nor the request says
        images=len(data),
        size=_text(reply.get("size")) or _text(body.get("size")) or "1024x1024",
        quality=_text(reply.get("quality")) or _text(body.get("quality")) or "standard",
    )
    usage = _token_usage(reply.get("usage"))
    if not native:
        return RunResponse(output=msgspec.Raw(raw), usage=usage, wire="openai", measured=measured)
    extension = _text(reply.get("output_format")) or _text(body.get("output_format")) or "png"
    field = f"output_{extension}"
    outputs: list[Any] = []
    for image in data:
        if isinstance(image, dict) and isinstance(image.get("b64_json"), str):
            outputs.append({field: image["b64_json"]})
        elif isinstance(image, dict) and isinstance(image.get("url"), str):
            outputs.append(image["url"])
        else:
            raise _broken(provider, "an image with neither b64_json nor url")
    media = None
    first = outputs[0]
    if len(outputs) == 1 and isinstance(first, dict):
        content_type = CONTENT_TYPES.get(extension, "application/octet-stream")
        media = GeneratedMedia(field=field, content_type=content_type, data=first[field])
    output = first if len(outputs) == 1 else outputs
    return RunResponse(output=msgspec.Raw(_encode(output)), usage=usage, media=media, measured=measured)


def raw_image(answer: RunResponse, provider: str, max_output_bytes: int) -> RunResponse:
    """A native `"json": false` answer: the one image's bytes (more images, or a URL, stay JSON)."""
    media = answer.media
    if media is None or not isinstance(media.data, str):
        return answer
    try:
        content = base64.b64decode(media.data, validate=True)
    except (binascii.Error, ValueError):
        raise _broken(provider, f"{media.field} that is not valid base64") from None
    if len(content) > max_output_bytes:
        raise too_large(provider, max_output_bytes)
    decoded = GeneratedMedia(field=media.field, content_type=media.content_type, data=content)
    return RunResponse(
        output=msgspec.Raw(b"null"), usage=answer.usage, media=decoded, measured=answer.measured
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_openai_speech(raw: bytes, content_type: str, body: dict[str, Any], as_base64: bool) -> RunResponse:
    """The audio bytes as sent; a native JSON answer carries them as `output_<ext>` base64."""
    asked = _text(body.get("response_format")) or "mp3"
    if not content_type.startswith("audio/"):
        content_type = _SPEECH_TYPES.get(asked, "application/octet-stream")
    extension = _EXTENSIONS.get(content_type, asked)
    field = f"output_{extension}"
    text = body.get("input")
    measured = MediaUsage(characters=len(text) if isinstance(text, str) else 0)
    if as_base64:
        encoded = base64.b64encode(raw).decode()
        media = GeneratedMedia(field=field, content_type=content_type, data=encoded)
        return RunResponse(output=msgspec.Raw(_encode({field: encoded})), media=media, measured=measured)
    media = GeneratedMedia(field=field, content_type=content_type, data=raw)
    return RunResponse(output=msgspec.Raw(b"null"), media=media, wire="openai", measured=measured)


def _seconds(value: Any) -> Decimal | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return Decimal(repr(value))
        except InvalidOperation:
            return None
    return None


def from_openai_transcription(
    raw: bytes, content_type: str, body: dict[str, Any], provider: str, native: bool
) -> RunResponse:
    """`{text, usage?: {type: "duration", seconds} | {type: "tokens", ...}}` (json,
    verbose_json: also `duration`), or the transcript as text (text, srt, vtt)."""
    asked = _text(body.get("response_format")) or "json"
    if asked in _TEXT_FORMATS and not content_type.startswith("application/json"):
        media = GeneratedMedia(field="text", content_type=content_type or "text/plain", data=raw)
        return RunResponse(output=msgspec.Raw(b"null"), media=media, wire="openai", measured=MediaUsage())
    reply = _json_object(raw, provider)
    usage_field = reply.get("usage")
    seconds = _seconds(reply.get("duration"))
    usage = Usage()
    if isinstance(usage_field, dict) and usage_field.get("type") == "duration":
        seconds = _seconds(usage_field.get("seconds"))
    audio_tokens = 0
    if isinstance(usage_field, dict) and usage_field.get("type") == "tokens":
        usage = _token_usage(usage_field)
        details = usage_field.get("input_token_details")
        audio_tokens = int(details.get("audio_tokens") or 0) if isinstance(details, dict) else 0
    measured = MediaUsage(audio_seconds=seconds, audio_input_tokens=audio_tokens)
    if not native:
        return RunResponse(output=msgspec.Raw(raw), usage=usage, wire="openai", measured=measured)
    text = reply.get("text")
    if not isinstance(text, str):
        raise _broken(provider, "a transcription with no text")
    return RunResponse(output=msgspec.Raw(_encode({"text": text})), usage=usage, measured=measured)
