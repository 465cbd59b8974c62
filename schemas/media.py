"""Media calls from the OpenAI media endpoints (`/v1/images/generations`, `/v1/audio/speech`,
`/v1/audio/transcriptions`), as dispatch carries them.

A `MediaRequest` is a `RunRequest` for the endpoint's task (text-to-image, text-to-speech,
automatic-speech-recognition) that also keeps the OpenAI body the client sent, so each
upstream gets what serves it best: an OpenAI-protocol upstream (OpenAI itself, LocalAI,
vLLM, Speaches) gets that body passed through with only `model` rewritten, and a Bytez
container gets the task request it reads (`text`, or the upload as a `base64` data URL),
translated by its adapter. Which of the two an answer came in says `RunResponse.wire`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import Struct

from schemas.tasks import OPENAI_MEDIA_TASKS, RunRequest

IMAGE_GENERATION = "text-to-image"
SPEECH = "text-to-speech"
TRANSCRIPTION = "automatic-speech-recognition"

Operation = Literal["images", "speech", "transcriptions"]

OPERATION_TASKS: dict[str, frozenset[str]] = {
    "images": frozenset({IMAGE_GENERATION}),
    "speech": frozenset({SPEECH, "text-to-audio"}),
    "transcriptions": frozenset({TRANSCRIPTION}),
}
"""The model tasks an endpoint serves: a Bytez container declared another task cannot."""

OPENAI_PATHS: dict[str, str] = {
    "images": "/images/generations",
    "speech": "/audio/speech",
    "transcriptions": "/audio/transcriptions",
}
"""Each operation's path under an OpenAI-protocol base URL (`.../v1`)."""

TASK_OPERATIONS: dict[str, str] = {
    IMAGE_GENERATION: "images",
    SPEECH: "speech",
    "text-to-audio": "speech",
    TRANSCRIPTION: "transcriptions",
}
"""The OpenAI operation that runs a media task, for a native call to an OpenAI-protocol model."""


class Upload(Struct, frozen=True):
    """A file sent as multipart (`file` of `/v1/audio/transcriptions`), held once in memory."""

    filename: str
    content_type: str
    data: bytes


class MediaRequest(RunRequest, kw_only=True, omit_defaults=True):
    operation: Operation
    openai: dict[str, Any] = msgspec.field(default_factory=dict)
    """The OpenAI body's fields but `model` (and `file`), exactly as the client sent them."""
    upload: Upload | None = None


VENDOR_MEDIA_TASKS: dict[str, frozenset[str]] = {
    "openai": OPENAI_MEDIA_TASKS,
    "gemini": frozenset({IMAGE_GENERATION}),
}
"""The media tasks each vendor's adapter runs (adapters/openai/media.py: images, speech,
transcription; adapters/gemini/media_out.py: image output)."""
MEDIA_VENDORS = frozenset(VENDOR_MEDIA_TASKS)
