"""OpenAI chat completions → ChatResponse. Pure; tested straight from fixtures."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.openai.errors import classify_openai_error_body
from adapters.openai.request import Dialect
from adapters.openai.wire import WireMessage, WireUsage, decode_completion
from adapters.replies import FinishReasons, chat_response, not_json
from schemas.chat import ChatResponse, FunctionCall, ToolCall, Usage
from schemas.errors import Code, UpstreamError

map_openai_finish_reason = FinishReasons(
    {
        "stop": "stop",
        "length": "length",
        "model_length": "length",
        "tool_calls": "tool_calls",
        "function_call": "tool_calls",
        "content_filter": "content_filter",
        "error": "error",
    }
)


def from_openai_usage(usage: WireUsage | None) -> Usage:
    if usage is None:
        return Usage()
    out = Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)
    details = usage.prompt_tokens_details
    if details is not None and details.cached_tokens is not None:
        out.cached_input_tokens = details.cached_tokens
    completion = usage.completion_tokens_details
    if completion is not None and completion.reasoning_tokens is not None:
        out.reasoning_tokens = completion.reasoning_tokens
    return out


def arguments_text(value: str | dict[str, Any] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def _text(content: str | list[Any] | None) -> str | None:
    if content is None or isinstance(content, str):
        return content
    texts = [
        part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
    ]
    return "".join(texts)


def from_openai_message(message: WireMessage) -> tuple[str | None, list[ToolCall] | None]:
    tool_calls = None
    if message.tool_calls:
        tool_calls = [
            ToolCall(
                id=call.id or f"call_{position}",
                function=FunctionCall(
                    name=(call.function.name or "") if call.function else "",
                    arguments=arguments_text(call.function.arguments) if call.function else "",
                ),
            )
            for position, call in enumerate(message.tool_calls)
        ]
    return _text(message.content), tool_calls


def from_openai_response(raw: bytes, provider: str, dialect: Dialect | None = None) -> ChatResponse:
    try:
        completion = decode_completion(raw)
    except msgspec.DecodeError as error:
        raise not_json(provider) from error
    if completion.error is not None or completion.object == "error":
        classify = (dialect and dialect.classify_error) or classify_openai_error_body
        raise classify(200, raw, provider, {})
    if not completion.choices or completion.choices[0].message is None:
        raise UpstreamError(Code.SERVER_ERROR, f"{provider} sent a reply with no choices", provider=provider)
    choice = completion.choices[0]
    assert choice.message is not None
    content, tool_calls = from_openai_message(choice.message)
    raw_reason = choice.finish_reason or completion.finish_reason
    hook = dialect.reply_reasoning if dialect is not None else None
    message_content = choice.message.content
    reasoning = hook(message_content) if hook is not None and isinstance(message_content, list) else None
    if choice.message.refusal and content is None:
        content = choice.message.refusal
    return chat_response(
        id=completion.id,
        model=completion.model,
        content=content,
        finish_reason=map_openai_finish_reason(raw_reason),
        raw_finish_reason=raw_reason,
        usage=from_openai_usage(completion.usage),
        raw=raw,
        tool_calls=tool_calls,
        reasoning=reasoning,
    )
