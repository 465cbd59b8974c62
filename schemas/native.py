"""The native (Bytez-compatible) surface: its request body and its response envelope."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Struct, UnsetType

from schemas.chat import (
    Content,
    Message,
    ReasoningPart,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)


class NativeBody(Struct, omit_defaults=True):
    """`POST /models/v2/{model_id}`: every field optional but one input."""

    messages: list[Message] | UnsetType = UNSET
    text: str | UnsetType = UNSET
    input: str | list[Message] | dict[str, Any] | UnsetType = UNSET
    """What the Bytez SDKs send: a string, messages, or (tasks they do not map) an object."""
    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET
    question: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    candidate_labels: list[str] | UnsetType = UNSET
    params: dict[str, Any] | UnsetType = UNSET
    stream: bool = False
    json: bool | None = None
    """Chat: `true` asks for a JSON object. Media tasks: `false` asks for the raw bytes."""
    tools: list[Tool] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    response_format: ResponseFormat | UnsetType = UNSET
    fallbacks: list[str] | UnsetType = UNSET
    """Model ids to try, in order, when the route's own targets fail before the first byte."""


class BillingSummary(Struct):
    """The seed's Inference Meter, Meter Price (USD/s), Inference Time (s) and Cost (USD)."""

    meter: str
    meter_price: float | None
    inference_time: float
    cost: float | None


class ChatOutput(Struct, omit_defaults=True):
    """A chat answer's `output`: the assistant message, and why the model stopped
    (`finish_reason` one of stop, length, tool_calls, content_filter, error, other;
    `raw_finish_reason` the vendor's own word)."""

    role: str
    content: Content | None
    finish_reason: str
    raw_finish_reason: str | None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    reasoning: list[ReasoningPart] | UnsetType = UNSET


ENVELOPE_KEYS = ("error", "code", "output", "usage", "billing", "provider", "warnings", "id", "model")
"""The keys of every non-streamed native answer, in the order they are sent."""


class Envelope(Struct):
    """Every non-streamed answer of the native surface, whatever served it (a vendor's chat,
    a worker pool's chat or task, embeddings, media) and whatever went wrong: the same nine
    keys, null where unknown, so a typed client declares this one type (copy it, or read its
    JSON Schema in the OpenAPI document at /schema/openapi.json).

    - `error`: null, or the human message of a failure (then `code` is its stable code,
      docs/errors.md, and `output`, `usage` and `billing` are null).
    - `output`: a chat's `ChatOutput`; a task's output exactly as the worker gave it.
    - `usage`: token counts; null where none were counted (a pool task is billed by time).
    - `billing`: meter, meter price, inference time and cost, as the `Inference-*` headers.
    - `provider`: the vendor's raw reply (an object) on a vendor's answer; on an error, the
      name of the vendor or worker that reported it (a string); null otherwise.
    - `warnings`: what was not sent as asked (a parameter the vendor cannot take); [] if none.
    - `id`: the request id (the `X-Request-Id` header, the ledger row); `model`: the model id
      the caller asked for (null when the request named none the gateway could read).

    Fields are declared without defaults: building one means deciding each of the nine."""

    error: str | None
    code: str | None
    output: Any
    usage: Usage | None
    billing: BillingSummary | None
    provider: Any
    warnings: list[str]
    id: str | None
    model: str | None


class CatalogueEntry(Struct, omit_defaults=True):
    """One model in `list/models`: Bytez's fields (modelId, task, meter, meterPrice,
    contextSize) and the catalogue's. Token prices are USD per million tokens; `known` is
    false for an id that routes to a vendor the catalogue has no entry for."""

    modelId: str
    task: str
    provider: str | UnsetType = UNSET
    pool: str | UnsetType = UNSET
    meter: str | UnsetType = UNSET
    meterPrice: float | UnsetType = UNSET
    contextSize: int | UnsetType = UNSET
    capabilities: list[str] | UnsetType = UNSET
    known: bool | UnsetType = UNSET
    maxOutput: int | UnsetType = UNSET
    inputPrice: float | UnsetType = UNSET
    outputPrice: float | UnsetType = UNSET
    cachedInputPrice: float | UnsetType = UNSET
    cacheWritePrice: float | UnsetType = UNSET
    imagePrice: float | UnsetType = UNSET
    imagePrices: dict[str, float] | UnsetType = UNSET
    """USD per image by `"<quality>/<size>"` or `"<size>"` (DALL·E)."""
    audioSecondPrice: float | UnsetType = UNSET
    characterPrice: float | UnsetType = UNSET
    """USD per million characters spoken (text-to-speech)."""
    audioInputPrice: float | UnsetType = UNSET
    """USD per million audio input tokens, where they are priced apart from text (transcription)."""
    longContext: list[dict[str, float]] | UnsetType = UNSET
    """Tiers: `above` input tokens, the whole call at these prices."""
    deprecated: str | UnsetType = UNSET
    """The vendor's retirement date (YYYY-MM-DD), where it announced one."""


class CatalogueAnswer(Struct):
    output: list[CatalogueEntry] | list[str]
    error: None = None
