"""The task path: Bytez tasks that are not chat (text-generation, embeddings, question
answering, classification, ...), as a worker pool runs them.

`RunRequest` is a `ChatRequest` with no messages and the task's inputs, so the dispatcher's
one attempt loop (failover, cancellation, the ledger) and its stream relay carry it without a
second copy: a worker adapter tells the two apart with `isinstance`. Only worker adapters ever
see one (the native surface sends tasks to pools only).

Which body field a task reads follows the Bytez SDKs (`Model.run` maps its `input` by the
model's task), so an app written for the Bytez API keeps working.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from schemas.chat import ChatRequest, Usage
from schemas.events import Billing
from schemas.native import BillingSummary

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
    }
)
"""Tasks whose input is a media file, as `url` (http/https) or `base64` (a data URL)."""

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


class RunRequest(ChatRequest, kw_only=True, omit_defaults=True):
    """One non-chat task call. `messages` stays empty; `params` go to the worker verbatim
    (minus the parameters the gateway never forwards)."""

    task: str
    text: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET
    question: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    candidate_labels: list[str] | UnsetType = UNSET
    input: Any = UNSET
    """What the client sent as `input` when the task gives it no named field (passed through)."""
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class RunResponse(Struct, omit_defaults=True):
    output: msgspec.Raw
    """The task's output exactly as the worker gave it (`[{"generated_text": ...}]`, vectors, ...)."""
    usage: Usage = msgspec.field(default_factory=Usage)


class TaskResult(Struct):
    response: RunResponse
    billing: Billing
    provider: str
    """`pool:<name>`."""


class TaskEnvelope(Struct):
    """The Bytez envelope for a non-chat task: `output` as the worker gave it, and billing."""

    output: msgspec.Raw
    billing: BillingSummary
    id: str
    model: str
    task: str
    error: None = None
