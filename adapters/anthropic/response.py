"""Anthropic payloads → ChatResponse. Pure; tested straight from fixtures."""

from __future__ import annotations

import msgspec

from adapters.anthropic.errors import classify_anthropic_error
from adapters.anthropic.wire import WireBlock, WireUsage, decode_message
from adapters.replies import FinishReasons, chat_response, not_json
from schemas.chat import ChatResponse, FunctionCall, ReasoningPart, ToolCall, Usage

map_anthropic_stop_reason = FinishReasons(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
    }
)
"""`pause_turn` (a server tool loop paused; send the turn back to continue) is `other`."""

_encode = msgspec.json.encode


def from_anthropic_usage(usage: WireUsage | None) -> Usage:
    """Anthropic's `input_tokens` leaves out cached tokens (read and written); ours counts all."""
    if usage is None:
        return Usage()
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    out = Usage(
        input_tokens=(usage.input_tokens or 0) + cache_read + cache_write,
        output_tokens=usage.output_tokens or 0,
    )
    if usage.cache_read_input_tokens is not None:
        out.cached_input_tokens = usage.cache_read_input_tokens
    if usage.cache_creation_input_tokens is not None:
        out.cache_write_input_tokens = usage.cache_creation_input_tokens
    details = usage.output_tokens_details
    if details is not None and details.thinking_tokens is not None:
        out.reasoning_tokens = details.thinking_tokens
    return out


def tool_arguments(value: object) -> str:
    """Anthropic sends `input` as an object; the unified call carries it as a JSON string."""
    return _encode({} if value is None else value).decode()


def from_anthropic_blocks(
    blocks: list[WireBlock],
) -> tuple[str | None, list[ToolCall], list[ReasoningPart]]:
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[ReasoningPart] = []
    for block in blocks:
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "tool_use":
            calls.append(
                ToolCall(
                    id=block.id or f"toolu_{len(calls)}",
                    function=FunctionCall(name=block.name or "", arguments=tool_arguments(block.input)),
                )
            )
        elif block.type == "thinking":
            part = ReasoningPart(text=block.thinking or "")
            if block.signature:
                part.signature = block.signature
            reasoning.append(part)
        elif block.type == "redacted_thinking" and block.data is not None:
            reasoning.append(ReasoningPart(redacted=block.data))
    return ("".join(texts) if texts else None), calls, reasoning


def from_anthropic_response(raw: bytes, provider: str) -> ChatResponse:
    try:
        message = decode_message(raw)
    except msgspec.DecodeError as error:
        raise not_json(provider) from error
    if message.type == "error":
        raise classify_anthropic_error(200, message.error, provider, {})
    content, calls, reasoning = from_anthropic_blocks(message.content)
    return chat_response(
        id=message.id,
        model=message.model,
        content=content,
        finish_reason=map_anthropic_stop_reason(message.stop_reason),
        raw_finish_reason=message.stop_reason,
        usage=from_anthropic_usage(message.usage),
        raw=raw,
        tool_calls=calls,
        reasoning=reasoning,
    )
