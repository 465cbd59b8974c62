"""What every vendor's non-streamed reply decoding shares: its finish-reason vocabulary
mapped onto the unified one, the `ChatResponse` put together, and the error for a reply
that is not JSON. Each vendor's response.py keeps only what is its own: the table of its
finish reasons and how its reply holds text, tool calls, reasoning and usage.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from schemas.chat import ChatResponse, FinishReason, ReasoningPart, ToolCall, Usage
from schemas.errors import Code, UpstreamError


class FinishReasons:
    """One vendor's finish reasons → the unified ones; a missing or unknown one is `other`
    (the vendor's own word stays in `raw_finish_reason` / `Finish.raw_reason`)."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[str, FinishReason]) -> None:
        self._table = dict(table)

    def __call__(self, raw: str | None) -> FinishReason:
        if raw is None:
            return "other"
        return self._table.get(raw, "other")


def chat_response(
    *,
    id: str,
    model: str,
    content: str | None,
    finish_reason: FinishReason,
    raw_finish_reason: str | None,
    usage: Usage,
    raw: bytes | msgspec.Raw = b"null",
    tool_calls: list[ToolCall] | None = None,
    reasoning: list[ReasoningPart] | None = None,
) -> ChatResponse:
    """The one place a `ChatResponse` is assembled: tool calls and reasoning are set only
    when there are some, so an answer without them encodes without the keys."""
    response = ChatResponse(
        id=id,
        model=model,
        content=content,
        finish_reason=finish_reason,
        raw_finish_reason=raw_finish_reason,
        usage=usage,
        raw=raw if isinstance(raw, msgspec.Raw) else msgspec.Raw(raw),
    )
    if tool_calls:
        response.tool_calls = tool_calls
    if reasoning:
        response.reasoning = reasoning
    return response


def not_json(provider: str, what: str = "a reply") -> UpstreamError:
    return UpstreamError(
        Code.SERVER_ERROR, f"{provider} sent {what} that is not valid JSON", provider=provider
    )
