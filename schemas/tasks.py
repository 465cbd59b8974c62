"""The task path: Bytez tasks that are not chat (text-generation, embeddings, question
answering, classification, ...), as a worker pool runs them.

`RunRequest` is a Struct of its own, not a kind of `ChatRequest`: a task has no messages, no
tools and no unified sampling, so no code can read those of it by mistake. The dispatcher's
one attempt loop (failover, cancellation, the ledger) and its stream relay carry
`ChatRequest | RunRequest`; an adapter narrows it once, at its entry point
(adapters/base.py `chat_request` / `task_request`). Only worker adapters and the vendors'
media paths ever see one.

Which body field a task reads follows the Bytez SDKs (`Model.run` maps its `input` by the
model's task), so an app written for the Bytez API keeps working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

from schemas.chat import Usage
from schemas.events import Billing

CHAT = "chat"
TEXT_GENERATION = "text-generation"

TEXT_TASKS = frozenset(
    {
        "text-generation",
        "text2text-generation",
        "summarization",
        "translation",
        "feature-extraction",
        "sentence-similarity",
        "fill-mask",
        "text-classification",
        "token-classification",
        "text-to-speech",
        "text-to-audio",
        "text-to-image",
        "text-to-video",
    }
)
"""Tasks whose input is `text`."""

MEDIA_TASKS = frozenset(
    {
        "image-classification",
        "image-segmentation",
        "image-to-text",
        "image-feature-extraction",
        "object-detection",
        "depth-estimation",
        "mask-generation",
        "automatic-speech-recognition",
        "audio-classification",
        "video-classification",
        "image-to-image",
    }
)
"""Tasks whose input is a media file, as `url` (http/https) or `base64` (a data URL)."""

IMAGE_OUTPUT_TASKS = frozenset({"text-to-image", "image-to-image", "unconditional-image-generation"})
AUDIO_OUTPUT_TASKS = frozenset({"text-to-speech", "text-to-audio"})
VIDEO_OUTPUT_TASKS = frozenset({"text-to-video"})
MEDIA_OUTPUT_TASKS = IMAGE_OUTPUT_TASKS | AUDIO_OUTPUT_TASKS | VIDEO_OUTPUT_TASKS
"""Tasks that generate media: the container answers `{"output_png" | "output_wav" |
"output_mp4": <base64>}` (or a URL in `output`)."""

_IMAGE = ("image",)
MEDIA_INPUT_KINDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "image-classification",
            "image-segmentation",
            "image-to-text",
            "image-feature-extraction",
            "object-detection",
            "depth-estimation",
            "mask-generation",
            "image-to-image",
            "zero-shot-image-classification",
            "zero-shot-object-detection",
            "visual-question-answering",
        ),
        _IMAGE,
    ),
    "document-question-answering": ("image", "application/pdf"),
    "automatic-speech-recognition": ("audio", "video"),
    "audio-classification": ("audio",),
    "video-classification": ("video",),
}
"""The media a task's `url` / `base64` may carry: a top-level type (`image`) or an exact one.
ASR takes a video's sound track too, as the Hugging Face pipeline does (ffmpeg decodes it)."""

LABEL_TASKS = frozenset(
    {"zero-shot-classification", "zero-shot-image-classification", "zero-shot-object-detection"}
)
QUESTION_TASKS = frozenset({"question-answering", "visual-question-answering", "document-question-answering"})
CHAT_CAPABLE_TASKS = frozenset(
    {CHAT, TEXT_GENERATION, "image-text-to-text", "audio-text-to-text", "video-text-to-text", "any-to-any"}
)
"""Tasks whose models also answer `messages`: such a body takes the chat path."""

STREAMING_TASKS = frozenset({TEXT_GENERATION})
"""Tasks whose output can stream (as raw text, the way Bytez streams text generation)."""

EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-similarity", "embeddings"})
OPENAI_MEDIA_TASKS = frozenset({"text-to-image", "text-to-speech", "automatic-speech-recognition"})
"""Tasks an OpenAI-protocol upstream runs on `/v1/images/generations`, `/v1/audio/speech`
and `/v1/audio/transcriptions` (schemas/media.py)."""


class RunRequest(Struct, kw_only=True, omit_defaults=True):
    """One non-chat task call: the task, its inputs by the names the Bytez API gives them,
    and `params` for the worker verbatim (minus the parameters the gateway never forwards).
    No messages and no unified sampling: a task's knobs are its model's own (`params`)."""

    model: str
    task: str
    stream: bool = False
    text: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET
    question: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    candidate_labels: list[str] | UnsetType = UNSET
    input: Any = UNSET
    """What the client sent as `input` when the task gives it no named field (passed through)."""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    raw_media: bool = False
    """The client sent `"json": false`: generated media is answered as raw bytes."""


class GeneratedMedia(Struct, frozen=True):
    """Media a worker generated, still base64 as it came (decoded only for a raw answer)."""

    field: str
    """The Bytez name of the field: `output_png`, `output_wav`, `output_mp4`, ..."""
    content_type: str
    data: str | bytes
    """Base64 (standard alphabet) as it came for a JSON answer; the decoded bytes for a raw one."""


class MediaUsage(Struct, omit_defaults=True):
    """What a vendor that prices media bills by, as the call measured it (proxy/accounting/
    metering.py multiplies it out): images generated at a size and quality, seconds of
    audio transcribed, characters of text spoken."""

    images: int = 0
    size: str | None = None
    quality: str | None = None
    audio_seconds: Decimal | None = None
    characters: int = 0
    audio_input_tokens: int = 0
    """Of the reported input tokens, those that were audio (a transcription's
    `input_token_details.audio_tokens`), billed at `audio_input` where it is priced."""


class RunResponse(Struct, omit_defaults=True):
    output: msgspec.Raw
    """The task's output exactly as the worker gave it (`[{"generated_text": ...}]`, vectors, ...)."""
    usage: Usage = msgspec.field(default_factory=Usage)
    media: GeneratedMedia | None = None
    """Set when the worker generated media; `output` is then `{"<field>": <base64>}`."""
    wire: Literal["bytez", "openai"] = "bytez"
    """The shape of `output` / `media`: a Bytez container's (`{"output_png": ...}`), or the
    OpenAI media endpoint's reply passed through (schemas/media.py)."""
    measured: MediaUsage | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None
    """The generated media still coming, relayed chunk by chunk (`/v1/audio/speech` from
    OpenAI: adapters/openai/speech_relay.py); `media` then describes it and holds no bytes."""


class TaskResult(Struct):
    response: RunResponse
    billing: Billing
    provider: str
    """`pool:<name>`."""


def token_usage(usage: Usage) -> Usage | None:
    """A task's usage as the envelope shows it: null when the worker counted no tokens (a
    Bytez container never does; an image or a sound has none), else the counts."""
    return usage if usage.input_tokens or usage.output_tokens else None


def can_serve(task: str, protocol: str | None) -> bool:
    """Whether a target runs `task` on the native surface: a Bytez container runs whatever
    task it was declared (an unknown one gets the body's `input` as is); an OpenAI-protocol
    worker runs chat, text-generation and embeddings; a vendor (`protocol` None) runs the
    chat path only, so a chat-capable task (with messages) and nothing else. An
    OpenAI-protocol worker or vendor also runs the tasks of OpenAI's media endpoints."""
    if protocol == "bytez":
        return True
    if protocol == "openai":
        return task in CHAT_CAPABLE_TASKS or task in EMBEDDING_TASKS or task in OPENAI_MEDIA_TASKS
    return task in CHAT_CAPABLE_TASKS
