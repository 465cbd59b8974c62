"""Gemini `GenerateContentResponse` → ChatResponse, and the stream decoder. Pure.

Gemini ends a turn that calls functions with `STOP`, so the unified finish reason is
`tool_calls` whenever the reply holds functionCall parts. A prompt Gemini refuses to read
comes back as a 200 with `promptFeedback.blockReason` and no candidates: that is raised as
`content_filter`, since there is no answer to return; a reply cut by a safety filter is a
normal answer whose finish reason says so.
"""

from __future__ import annotations

import msgspec

from adapters.gemini.errors import classify_gemini_error
from adapters.gemini.tool_ids import synthesize_call_id
from adapters.gemini.wire import WirePart, WireResponse, WireUsage, decode_response
from adapters.replies import FinishReasons, chat_response, not_json
from schemas.chat import ChatResponse, FinishReason, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.errors import Code, UpstreamError

_FINISH = FinishReasons(
    {
        "STOP": "stop",
        "MAX_TOKENS": "length",
        "SAFETY": "content_filter",
        "RECITATION": "content_filter",
        "BLOCKLIST": "content_filter",
        "PROHIBITED_CONTENT": "content_filter",
        "SPII": "content_filter",
        "IMAGE_SAFETY": "content_filter",
        "IMAGE_PROHIBITED_CONTENT": "content_filter",
        "IMAGE_RECITATION": "content_filter",
        "MALFORMED_FUNCTION_CALL": "error",
        "UNEXPECTED_TOOL_CALL": "error",
        "TOO_MANY_TOOL_CALLS": "error",
        "MISSING_THOUGHT_SIGNATURE": "error",
    }
)
_encode = msgspec.json.encode


def map_gemini_finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason:
    if raw == "STOP" and has_tool_calls:
        return "tool_calls"
    return _FINISH(raw)


def from_gemini_usage(usage: WireUsage | None) -> Usage:
    """Input counts every prompt token (cached and tool-use ones included); output counts the
    thinking Gemini bills as output, which `candidatesTokenCount` leaves out."""
    if usage is None:
        return Usage()
    thoughts = usage.thoughts_token_count or 0
    out = Usage(
        input_tokens=usage.prompt_token_count + usage.tool_use_prompt_token_count,
        output_tokens=usage.candidates_token_count + thoughts,
    )
    if usage.cached_content_token_count is not None:
        out.cached_input_tokens = usage.cached_content_token_count
    if usage.thoughts_token_count is not None:
        out.reasoning_tokens = usage.thoughts_token_count
    return out


def arguments_of(part: WirePart) -> str:
    call = part.function_call
    return "{}" if call is None or call.args is None else _encode(call.args).decode()


def raise_if_blocked(reply: WireResponse, provider: str, *secrets: str) -> None:
    if reply.error is not None:
        raise classify_gemini_error(200, reply.error, provider, {}, *secrets)
    feedback = reply.prompt_feedback
    if not reply.candidates and feedback is not None and feedback.block_reason:
        reason = feedback.block_reason_message or feedback.block_reason
        raise UpstreamError(
            Code.CONTENT_FILTER,
            f"{provider} blocked the prompt: {reason}",
            provider=provider,
            upstream_status=200,
        )


def from_gemini_parts(
    parts: list[WirePart], response_id: str, first_position: int = 0
) -> tuple[list[str], list[ToolCall], list[ReasoningPart]]:
    """Texts, tool calls and reasoning of one reply's parts, in order.

    A `thought: true` part is a ReasoningPart with its text (and its signature, if any); a
    signature on any other part becomes a signature-only ReasoningPart, which
    `adapters/gemini/messages.py` puts back on the same kind of part next turn.
    """
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[ReasoningPart] = []
    for part in parts:
        if part.thought:
            thought = ReasoningPart(text=part.text or "")
            if part.thought_signature:
                thought.signature = part.thought_signature
            reasoning.append(thought)
            continue
        if part.thought_signature:
            reasoning.append(ReasoningPart(signature=part.thought_signature))
        if part.function_call is not None:
            name = part.function_call.name
            call_id = part.function_call.id or synthesize_call_id(
                response_id, first_position + len(calls), name
            )
            calls.append(ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments_of(part))))
        elif part.text is not None:
            texts.append(part.text)
    return texts, calls, reasoning


def from_gemini_response(raw: bytes, provider: str, model: str, *secrets: str) -> ChatResponse:
    try:
        reply = decode_response(raw)
    except msgspec.DecodeError as error:
        raise not_json(provider) from error
    raise_if_blocked(reply, provider, *secrets)
    if not reply.candidates:
        raise UpstreamError(
            Code.SERVER_ERROR, f"{provider} sent a reply with no candidates", provider=provider
        )
    candidate = reply.candidates[0]
    parts = candidate.content.parts if candidate.content is not None else []
    texts, calls, reasoning = from_gemini_parts(parts, reply.response_id)
    return chat_response(
        id=reply.response_id,
        model=reply.model_version or model,
        content="".join(texts) if texts else None,
        finish_reason=map_gemini_finish_reason(candidate.finish_reason, bool(calls)),
        raw_finish_reason=candidate.finish_reason,
        usage=from_gemini_usage(reply.usage_metadata),
        raw=raw,
        tool_calls=calls,
        reasoning=reasoning,
    )
