"""Cohere v2 chat replies → ChatResponse. Pure; tested straight from fixtures (stream.py
decodes the stream with the same pieces).

`tool_plan` (the plan a Cohere model writes before calling tools, and streams as
`tool-plan-delta`) is reasoning, not answer text: it becomes a ReasoningPart /
ReasoningDelta beside `thinking` content, so clients see tool-call turns with no content,
as OpenAI gives them, and request.py sends it back as `tool_plan`.
"""

from __future__ import annotations

import msgspec

from adapters.cohere.errors import PROVIDER
from adapters.cohere.wire import (
    WireContent,
    WireMessage,
    WireToolCall,
    WireUsage,
    decode_response,
)
from adapters.replies import FinishReasons, chat_response, not_json
from schemas.chat import ChatResponse, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.errors import Code, UpstreamError

map_cohere_finish_reason = FinishReasons(
    {
        "COMPLETE": "stop",
        "STOP_SEQUENCE": "stop",
        "MAX_TOKENS": "length",
        "TOOL_CALL": "tool_calls",
        "ERROR": "error",
        "TIMEOUT": "error",
    }
)


def from_cohere_usage(usage: WireUsage | None) -> Usage:
    """`tokens` counts every token the model saw (cached ones included); `billed_units`,
    what Cohere bills, stands in only when `tokens` is absent and stays in `raw`."""
    if usage is None:
        return Usage()
    counts = usage.tokens or usage.billed_units
    out = Usage()
    if counts is not None:
        out.input_tokens = int(counts.input_tokens or 0)
        out.output_tokens = int(counts.output_tokens or 0)
    if usage.cached_tokens is not None:
        out.cached_input_tokens = int(usage.cached_tokens)
    return out


def as_content_list(value: list[WireContent] | WireContent | str | None) -> list[WireContent]:
    if value is None:
        return []
    if isinstance(value, str):
        return [WireContent(type="text", text=value)]
    return value if isinstance(value, list) else [value]


def from_cohere_tool_calls(calls: list[WireToolCall] | WireToolCall | None) -> list[ToolCall]:
    if calls is None:
        return []
    listed = calls if isinstance(calls, list) else [calls]
    out: list[ToolCall] = []
    for position, call in enumerate(listed):
        function = call.function
        arguments = function.arguments if function is not None and function.arguments is not None else "{}"
        name = (function.name or "") if function is not None else ""
        out.append(ToolCall(id=call.id or f"call_{position}", function=FunctionCall(name, arguments)))
    return out


def from_cohere_message(message: WireMessage) -> tuple[str | None, list[ReasoningPart], list[ToolCall]]:
    texts: list[str] = []
    reasoning: list[ReasoningPart] = []
    for item in as_content_list(message.content):
        if item.type == "thinking" and item.thinking:
            reasoning.append(ReasoningPart(text=item.thinking))
        elif item.type in ("text", None) and item.text is not None:
            texts.append(item.text)
    if message.tool_plan:
        reasoning.append(ReasoningPart(text=message.tool_plan))
    content = "".join(texts) if texts else None
    return content, reasoning, from_cohere_tool_calls(message.tool_calls)


def from_cohere_response(raw: bytes, model: str) -> ChatResponse:
    try:
        reply = decode_response(raw)
    except msgspec.DecodeError as error:
        raise not_json(PROVIDER) from error
    if reply.message is None:
        raise UpstreamError(Code.SERVER_ERROR, f"{PROVIDER} sent a reply with no message", provider=PROVIDER)
    content, reasoning, tool_calls = from_cohere_message(reply.message)
    return chat_response(
        id=reply.id,
        model=model,
        content=content,
        finish_reason=map_cohere_finish_reason(reply.finish_reason),
        raw_finish_reason=reply.finish_reason,
        usage=from_cohere_usage(reply.usage),
        raw=raw,
        tool_calls=tool_calls,
        reasoning=reasoning,
    )
