"""The unified chat schema: what every surface decodes into and every adapter translates from.

Tools use OpenAI's shapes (the most widely known); messages are tagged by `role`, content
parts by `type`. Optional fields default to `UNSET`, so only what the client sent travels on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

VendorExtra = dict[str, dict[str, Any]]
"""Parameters only one vendor takes, keyed by that vendor's name (`{"anthropic": {...}}`):
each target's adapter sends its own vendor's and names the others' in its warnings."""

CacheControl = dict[str, Any]
"""A prompt-caching breakpoint, as Anthropic spells it (`{"type": "ephemeral", "ttl": "1h"}`):
only Anthropic takes it; other vendors cache on their own and get a warning instead."""


class TextPart(Struct, tag="text", tag_field="type", omit_defaults=True):
    text: str
    cache_control: CacheControl | UnsetType = UNSET


class ImagePart(Struct, tag="image", tag_field="type", omit_defaults=True):
    """An image by `url` (http/https) or by `base64` (a data URL)."""

    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET
    detail: str | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET


class AudioPart(Struct, tag="audio", tag_field="type", omit_defaults=True):
    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET


class VideoPart(Struct, tag="video", tag_field="type", omit_defaults=True):
    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET


class DocumentPart(Struct, tag="document", tag_field="type", omit_defaults=True):
    """A document to read: a PDF by `url` or by `base64` (a data URL), or plain `text`.

    Anthropic takes all three (its `document` block); OpenAI and Gemini take a PDF inline,
    Mistral by URL or inline; a plain-text document is sent as text where a vendor has no
    document type. `title` and `context` travel where the vendor has a place for them.
    """

    url: str | UnsetType = UNSET
    base64: str | UnsetType = UNSET
    text: str | UnsetType = UNSET
    title: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET


ContentPart = TextPart | ImagePart | AudioPart | VideoPart | DocumentPart
Content = str | list[ContentPart]


class FunctionCall(Struct):
    name: str
    arguments: str = ""
    """A JSON document as a string, exactly as the model produced it."""


class ToolCall(Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class ReasoningPart(Struct, omit_defaults=True):
    """A reasoning block an assistant turn produced, carried back unchanged in later turns.

    `signature` is Anthropic's thinking signature or Gemini's thought signature; `redacted`
    holds an opaque redacted-thinking payload.
    """

    text: str = ""
    signature: str | UnsetType = UNSET
    redacted: str | UnsetType = UNSET


class SystemMessage(Struct, tag="system", tag_field="role", omit_defaults=True):
    content: Content
    inline: bool | UnsetType = UNSET
    """True when the caller put this system message among the turns on Anthropic's wire
    (Claude Code's mid-conversation system turns): Anthropic receives it there; a vendor with
    a single system prompt folds it in, in order, with the others."""
    vendor_extra: VendorExtra = msgspec.field(default_factory=dict)
    """A turn's own vendor fields (Claude Code's per-turn `output_config`)."""


class UserMessage(Struct, tag="user", tag_field="role", omit_defaults=True):
    content: Content
    name: str | UnsetType = UNSET
    vendor_extra: VendorExtra = msgspec.field(default_factory=dict)


class AssistantMessage(Struct, tag="assistant", tag_field="role", omit_defaults=True):
    content: Content | None = None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    reasoning: list[ReasoningPart] | UnsetType = UNSET
    name: str | UnsetType = UNSET


class ToolMessage(Struct, tag="tool", tag_field="role", omit_defaults=True):
    tool_call_id: str
    content: Content
    name: str | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET
    """A prompt-caching breakpoint on the tool result as a whole (Anthropic's `tool_result`)."""
    is_error: bool | UnsetType = UNSET
    """The tool failed and `content` says how (Anthropic's `is_error`, Gemini's `error`)."""


Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage


class FunctionDefinition(Struct, omit_defaults=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class Tool(Struct, omit_defaults=True):
    function: FunctionDefinition
    type: Literal["function"] = "function"
    cache_control: CacheControl | UnsetType = UNSET
    vendor_extra: VendorExtra = msgspec.field(default_factory=dict)
    """A tool's own vendor fields (Anthropic's `defer_loading`, `input_examples`, ...)."""


class NamedFunction(Struct):
    name: str


class NamedToolChoice(Struct):
    function: NamedFunction
    type: Literal["function"] = "function"


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class TextFormat(Struct, tag="text", tag_field="type"):
    pass


class JsonObjectFormat(Struct, tag="json_object", tag_field="type"):
    pass


class JsonSchema(Struct, omit_defaults=True):
    name: str = "response"
    schema: dict[str, Any] = msgspec.field(default_factory=dict)
    description: str | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class JsonSchemaFormat(Struct, tag="json_schema", tag_field="type"):
    json_schema: JsonSchema


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat


class Sampling(Struct, omit_defaults=True):
    """Sampling parameters by their unified names; each adapter maps or reports them."""

    max_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    stop: list[str] | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
"""OpenAI's `reasoning_effort` scale, the widest: Anthropic's `output_config.effort` is low to
max, Gemini's `thinkingLevel` minimal to high (xhigh), Mistral's the same as OpenAI's."""
ReasoningSummary = Literal["auto", "concise", "detailed", "none"]


class Reasoning(Struct, omit_defaults=True):
    """How much the model thinks before it answers, and whether its thinking comes back.

    Each adapter maps what its vendor has (OpenAI and Mistral `reasoning_effort`, Anthropic
    `thinking` + `output_config.effort`, Gemini `thinkingConfig`, Cohere `thinking`) and
    names in its warnings what it could not.
    """

    enabled: bool | UnsetType = UNSET
    """False: no thinking. True without `budget_tokens`: as much as the model decides
    (Anthropic's adaptive thinking, Gemini's dynamic budget)."""
    effort: ReasoningEffort | UnsetType = UNSET
    budget_tokens: int | UnsetType = UNSET
    """A cap on thinking tokens (Anthropic's `budget_tokens`, Gemini's `thinkingBudget`,
    Cohere's `token_budget`)."""
    summary: ReasoningSummary | UnsetType = UNSET
    """Whether the thinking's text comes back: `none` returns at most an opaque signature
    (Anthropic's `display: omitted`); the others ask for it (summarized where the vendor
    summarizes: Anthropic `display: summarized`, OpenAI Responses `summary`, Gemini
    `includeThoughts`)."""


class OpenAINative(Struct, frozen=True):
    """A body written for one of OpenAI's own endpoints, made ready for it by its surface:
    `/responses` (proxy/surfaces/responses/passthrough.py), which only OpenAI serves, so
    built-in tools, reasoning items and encrypted content survive; `/completions`
    (proxy/surfaces/openai/completions.py), which OpenAI and OpenAI-protocol pools serve, so
    `suffix`, `logprobs`, `echo`, `best_of` and several prompts do."""

    path: Literal["/responses", "/completions"]
    body: dict[str, Any]


class ChatRequest(Struct, omit_defaults=True):
    """One chat call as every adapter sees it, whatever surface it arrived on."""

    model: str
    messages: list[Message]
    stream: bool = False
    sampling: Sampling = msgspec.field(default_factory=Sampling)
    tools: list[Tool] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    response_format: ResponseFormat | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    """False: at most one tool call per turn (OpenAI's `parallel_tool_calls`, Anthropic's
    `disable_parallel_tool_use`)."""
    reasoning: Reasoning | UnsetType = UNSET
    anthropic_betas: list[str] | UnsetType = UNSET
    """The beta names the caller sent in `anthropic-beta`; only an Anthropic target gets them."""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Parameters the unified schema does not know, sent verbatim to whichever target serves
    the call (the native surface's `params`, an OpenAI client's `extra_body`)."""
    vendor_extra: VendorExtra = msgspec.field(default_factory=dict)
    """Parameters the caller wrote for one vendor's wire (Anthropic's `context_management`,
    OpenAI's `logprobs`): only that vendor's adapter sends them, every other reports them."""
    openai_native: OpenAINative | UnsetType = UNSET
    """The caller's body for one of OpenAI's own endpoints, beside its translation: a target
    that serves that endpoint sends it there instead of `messages`; every other target
    serves the translation."""


class Usage(Struct, omit_defaults=True):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int | UnsetType = UNSET
    reasoning_tokens: int | UnsetType = UNSET
    cache_write_input_tokens: int | UnsetType = UNSET
    """Input written to the vendor's prompt cache (Anthropic bills it above fresh input);
    like cached (read) input, part of `input_tokens`."""


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]


class ChatResponse(Struct, omit_defaults=True):
    """A finished, non-streamed answer from one vendor call."""

    id: str
    model: str
    content: str | None
    finish_reason: FinishReason
    raw_finish_reason: str | None
    usage: Usage
    tool_calls: list[ToolCall] | UnsetType = UNSET
    reasoning: list[ReasoningPart] | UnsetType = UNSET
    raw: msgspec.Raw = msgspec.Raw(b"null")
    """The vendor's own reply, byte for byte, for the envelope's `provider` field."""
    warnings: list[str] = msgspec.field(default_factory=list)


def media_parts(request: ChatRequest) -> Iterator[ImagePart | AudioPart | VideoPart]:
    """Every image, audio and video part of the request's turns (by URL or inline), in order."""
    for message in request.messages:
        if isinstance(message.content, list):
            for part in message.content:
                if isinstance(part, ImagePart | AudioPart | VideoPart):
                    yield part


def has_media(request: ChatRequest) -> bool:
    return next(media_parts(request), None) is not None


def cache_control_unsent(request: ChatRequest, provider: str, warnings: list[str]) -> None:
    """For a vendor without prompt-caching breakpoints: say that the request's were not sent
    (the vendor may still cache on its own)."""
    tools = request.tools if request.tools is not UNSET else []
    marked = any(tool.cache_control is not UNSET for tool in tools)
    marked = marked or any(
        isinstance(m, ToolMessage) and m.cache_control is not UNSET for m in request.messages
    )
    marked = marked or any(
        isinstance(part, TextPart | ImagePart) and part.cache_control is not UNSET
        for message in request.messages
        if isinstance(message.content, list)
        for part in message.content
    )
    sentence = f"cache_control is not supported by {provider}; it was not sent"
    if marked and sentence not in warnings:
        warnings.append(sentence)
