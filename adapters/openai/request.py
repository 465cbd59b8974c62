"""ChatRequest → an OpenAI Chat Completions body. Pure functions; `warnings` collects what
the target cannot take, so nothing is dropped silently.

- `reasoning` becomes `reasoning_effort` (adapters/reasoning.py), `parallel_tool_calls`
  travels, a PDF document a `file` part (or the dialect's own `document` hook), a text
  document a text part; `is_error` on a tool result has no field here and is reported.
- `vendor_extra` of this dialect's vendor travels verbatim; every other vendor's is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from adapters.media import split_data_url, to_data_url
from adapters.reasoning import to_reasoning_effort
from adapters.vendor_extra import own_vendor_extra
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    Content,
    DocumentPart,
    ImagePart,
    Message,
    ReasoningPart,
    Sampling,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
    VideoPart,
    cache_control_unsent,
)
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import StreamEvent

_to_builtins = msgspec.to_builtins


def _unsupported(provider: str, what: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, f"{provider} cannot take {what}", provider=provider)


def to_openai_file(part: DocumentPart, provider: str) -> dict[str, Any]:
    """A PDF as OpenAI's `file` part: inline only."""
    if part.base64 is UNSET:
        raise _unsupported(provider, "a document by URL (send it as base64)")
    filename = f"{part.title}.pdf" if part.title is not UNSET else "document.pdf"
    return {"type": "file", "file": {"file_data": to_data_url(part.base64), "filename": filename}}


DocumentHook = Callable[[DocumentPart, str], dict[str, Any]]
ChunkEventsHook = Callable[[int, list[Any]], list[StreamEvent]]
ReplyReasoningHook = Callable[[list[Any]], list[ReasoningPart]]


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one OpenAI-protocol server differs from OpenAI itself: flags for the fields it
    spells differently, hooks for the shapes only it has (each vendor's hooks live in its
    own package, so the OpenAI adapter holds no other vendor's code)."""

    provider: str = "openai"
    max_tokens_field: str = "max_completion_tokens"
    supports_top_k: bool = False
    seed_field: str = "seed"
    stream_usage_option: bool = True
    audio: bool = True
    whole_tool_calls: bool = False
    """Each streamed tool call arrives complete in one chunk and its `index` cannot be trusted
    (Mistral), so calls are numbered in the order they arrive."""
    classify_error: Callable[[int, bytes, str, Mapping[str, str]], UpstreamError] | None = None
    """The server's own classifier for an error inside a 200 body; None means OpenAI's."""
    document: DocumentHook | None = to_openai_file
    """How a PDF part travels (given the part and the provider's name): OpenAI's `file` part
    by default; None: not at all (a 400 naming the server). A text document is always text."""
    content_chunks: ChunkEventsHook | None = None
    """Stream delta content sent as a list of chunks → events; None: OpenAI's text chunks."""
    reply_reasoning: ReplyReasoningHook | None = None
    """Reasoning a reply carries among its content chunks; None: the server sends none there."""


def to_openai_document(part: DocumentPart, dialect: Dialect) -> dict[str, Any]:
    if part.text is not UNSET:
        heading = f"{part.title}\n\n" if part.title is not UNSET else ""
        return {"type": "text", "text": heading + part.text}
    if dialect.document is None:
        raise _unsupported(dialect.provider, "a document part")
    return dialect.document(part, dialect.provider)


def to_openai_content(content: Content, dialect: Dialect) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = part.url if part.url is not UNSET else to_data_url(str(part.base64))
            image: dict[str, Any] = {"url": url}
            if part.detail is not UNSET:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
        elif isinstance(part, AudioPart):
            if not dialect.audio or part.base64 is UNSET:
                raise _unsupported(dialect.provider, "an audio part by URL (send it as base64)")
            media_type, data = split_data_url(part.base64)
            audio_format = media_type.rpartition("/")[2].replace("mpeg", "mp3").replace("x-wav", "wav")
            parts.append({"type": "input_audio", "input_audio": {"data": data, "format": audio_format}})
        elif isinstance(part, DocumentPart):
            parts.append(to_openai_document(part, dialect))
        elif isinstance(part, VideoPart):
            raise _unsupported(dialect.provider, "a video part")
    return parts


def to_openai_message(message: Message, dialect: Dialect, warnings: list[str]) -> dict[str, Any]:
    if isinstance(message, UserMessage | SystemMessage):
        role = "user" if isinstance(message, UserMessage) else "system"
        out: dict[str, Any] = {"role": role, "content": to_openai_content(message.content, dialect)}
        if isinstance(message, UserMessage) and message.name is not UNSET:
            out["name"] = message.name
        return out
    if isinstance(message, AssistantMessage):
        out = {
            "role": "assistant",
            "content": None if message.content is None else to_openai_content(message.content, dialect),
        }
        if message.tool_calls is not UNSET and message.tool_calls:
            out["tool_calls"] = _to_builtins(message.tool_calls)
        return out
    assert isinstance(message, ToolMessage)
    if message.is_error is True:
        _warn(
            warnings,
            f"is_error on tool results is not supported by {dialect.provider}; the result was sent as text",
        )
    return {
        "role": "tool",
        "tool_call_id": message.tool_call_id,
        "content": to_openai_content(message.content, dialect),
    }


def _warn(warnings: list[str], sentence: str) -> None:
    if sentence not in warnings:
        warnings.append(sentence)


def to_openai_sampling(sampling: Sampling, dialect: Dialect, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sampling.max_tokens is not UNSET:
        out[dialect.max_tokens_field] = sampling.max_tokens
    if sampling.temperature is not UNSET:
        out["temperature"] = sampling.temperature
    if sampling.top_p is not UNSET:
        out["top_p"] = sampling.top_p
    if sampling.top_k is not UNSET:
        if dialect.supports_top_k:
            out["top_k"] = sampling.top_k
        else:
            warnings.append(f"top_k is not supported by {dialect.provider}; it was not sent")
    if sampling.stop is not UNSET:
        out["stop"] = sampling.stop
    if sampling.seed is not UNSET:
        out[dialect.seed_field] = sampling.seed
    if sampling.frequency_penalty is not UNSET:
        out["frequency_penalty"] = sampling.frequency_penalty
    if sampling.presence_penalty is not UNSET:
        out["presence_penalty"] = sampling.presence_penalty
    return out


def to_openai_body(request: ChatRequest, model: str, dialect: Dialect, warnings: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [to_openai_message(message, dialect, warnings) for message in request.messages],
    }
    body.update(to_openai_sampling(request.sampling, dialect, warnings))
    if request.reasoning is not UNSET:
        effort = to_reasoning_effort(request.reasoning, dialect.provider, warnings)
        if effort is not None:
            body["reasoning_effort"] = effort
    cache_control_unsent(request, dialect.provider, warnings)
    if request.tools is not UNSET and request.tools:
        body["tools"] = [
            {"type": tool.type, "function": _to_builtins(tool.function)} for tool in request.tools
        ]
    if request.tool_choice is not UNSET:
        body["tool_choice"] = _to_builtins(request.tool_choice)
    if request.parallel_tool_calls is not UNSET and "tools" in body:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not UNSET:
        body["response_format"] = _to_builtins(request.response_format)
    for name, value in own_vendor_extra(request, dialect.provider, warnings).items():
        body.setdefault(name, value)
    for name, value in request.extra.items():
        body.setdefault(name, value)
    if request.stream:
        body["stream"] = True
        if dialect.stream_usage_option:
            options = body.get("stream_options")
            body["stream_options"] = (
                {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
            )
    return body
