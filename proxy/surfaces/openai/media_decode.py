"""The bodies of OpenAI's media endpoints → a `MediaRequest` (schemas/media.py), checked
before any upstream is called: a missing prompt, a bad `n`, a file that is not audio, a
`file` URL that names no media or a data URL cut short answer 4xx here, and nothing is sent.

`/v1/audio/transcriptions` takes OpenAI's multipart upload (`file` and form fields) and, as
a gateway extension, a JSON body whose `file` is an http(s) URL or a base64 data URL.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from litestar.datastructures import UploadFile

from proxy.surfaces.native.media_input import check_media_input, url_media_type
from schemas.errors import Code, GatewayError
from schemas.media import IMAGE_GENERATION, SPEECH, TRANSCRIPTION, MediaRequest, Operation, Upload
from schemas.tasks import MEDIA_INPUT_KINDS

MAX_IMAGES = 10
IMAGE_FORMATS = frozenset({"url", "b64_json"})
SPEECH_FORMATS = frozenset({"mp3", "opus", "aac", "flac", "wav", "pcm"})
TRANSCRIPT_FORMATS = frozenset({"json", "text", "srt", "verbose_json", "vtt", "diarized_json"})
_TASKS: dict[Operation, str] = {"images": IMAGE_GENERATION, "speech": SPEECH, "transcriptions": TRANSCRIPTION}
_UNKNOWN = "application/octet-stream"


def _invalid(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message)


def _text_field(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"`{name}` is required: a non-empty string")
    return value


def _choice(fields: dict[str, Any], name: str, allowed: frozenset[str]) -> None:
    value = fields.get(name)
    if value is not None and value not in allowed:
        raise _invalid(f"`{name}` must be one of {', '.join(sorted(allowed))}")


def model_of(fields: dict[str, Any]) -> str:
    return _text_field(fields, "model")


def _request(operation: Operation, model: str, fields: dict[str, Any], **inputs: Any) -> MediaRequest:
    openai = {name: value for name, value in fields.items() if name not in {"model", "file"}}
    return MediaRequest(
        model=model,
        task=_TASKS[operation],
        operation=operation,
        openai=openai,
        raw_media=operation == "speech",
        **inputs,
    )


def image_request(fields: dict[str, Any]) -> MediaRequest:
    model = model_of(fields)
    prompt = _text_field(fields, "prompt")
    count = fields.get("n")
    if count is not None and (
        not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES
    ):
        raise _invalid(f"`n` must be a whole number from 1 to {MAX_IMAGES}")
    _choice(fields, "response_format", IMAGE_FORMATS)
    if fields.get("stream") is True:
        raise GatewayError(Code.UNSUPPORTED, "streamed image generation (`stream: true`) is not served")
    return _request("images", model, fields, text=prompt)


def speech_request(fields: dict[str, Any]) -> MediaRequest:
    model = model_of(fields)
    text = _text_field(fields, "input")
    _choice(fields, "response_format", SPEECH_FORMATS)
    speed = fields.get("speed")
    if speed is not None and (
        not isinstance(speed, int | float) or isinstance(speed, bool) or not 0.25 <= speed <= 4.0
    ):
        raise _invalid("`speed` must be a number from 0.25 to 4.0")
    if fields.get("stream_format") not in (None, "audio"):
        raise GatewayError(Code.UNSUPPORTED, "`stream_format: sse` is not served; the audio comes whole")
    return _request("speech", model, fields, text=text)


def _upload_type(upload: UploadFile) -> str:
    declared = (upload.content_type or "").split(";", 1)[0].strip().lower()
    if declared and declared != _UNKNOWN:
        return declared
    guessed = url_media_type(f"/{upload.filename or ''}") or mimetypes.guess_type(upload.filename or "")[0]
    return guessed or _UNKNOWN


def _check_kind(content_type: str, where: str) -> None:
    kinds = MEDIA_INPUT_KINDS[TRANSCRIPTION]
    if content_type.split("/", 1)[0] not in kinds:
        raise GatewayError(
            Code.UNSUPPORTED_MEDIA_TYPE, f"transcription takes audio/* or video/*; {where} is {content_type}"
        )


async def transcription_from_form(form: dict[str, list[Any]]) -> MediaRequest:
    """OpenAI's multipart body: one `file` part and string fields (`timestamp_granularities[]`
    repeated), which go on under their names without the `[]` the SDK adds back."""
    files = form.get("file") or []
    if len(files) != 1 or not isinstance(files[0], UploadFile):
        raise _invalid("`file` is required: one audio file, sent as a multipart file part")
    upload = files[0]
    fields: dict[str, Any] = {}
    for name, values in form.items():
        if name == "file":
            continue
        if any(not isinstance(value, str) for value in values):
            raise _invalid(f"`{name}` must be a form field, not a file")
        fields[name.removesuffix("[]")] = values if name.endswith("[]") else values[-1]
    model = model_of(fields)
    _check_transcription_fields(fields)
    content_type = _upload_type(upload)
    _check_kind(content_type, f"the file {upload.filename or ''!r}")
    data = await upload.read()
    if not data:
        raise _invalid("`file` is empty")
    filename = upload.filename or f"audio.{content_type.rpartition('/')[2]}"
    upload_data = Upload(filename=filename, content_type=content_type, data=data)
    return _request("transcriptions", model, fields, upload=upload_data)


def _check_transcription_fields(fields: dict[str, Any]) -> None:
    _choice(fields, "response_format", TRANSCRIPT_FORMATS)
    if str(fields.get("stream", "false")).lower() == "true":
        raise GatewayError(Code.UNSUPPORTED, "streamed transcription (`stream: true`) is not served")


def transcription_from_json(fields: dict[str, Any], max_bytes: int) -> MediaRequest:
    """The JSON form: `file` an http(s) URL (a container fetches it) or a base64 data URL."""
    model = model_of(fields)
    _check_transcription_fields(fields)
    file = _text_field(fields, "file")
    if file.startswith(("http://", "https://")):
        check_media_input(TRANSCRIPTION, file, None, max_bytes)
        return _request("transcriptions", model, fields, url=file)
    if not file.startswith("data:"):
        raise _invalid("`file` in a JSON body is an http(s) URL or a data URL; or send it as multipart")
    check_media_input(TRANSCRIPTION, None, file, max_bytes)
    return _request("transcriptions", model, fields, base64=file)
