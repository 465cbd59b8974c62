"""OpenAI's own Responses API (`POST /responses`), for a Responses request routed to OpenAI.

The Responses surface hands over the caller's body, made ready for OpenAI
(`ChatRequest.openai_native`, see proxy/surfaces/responses/passthrough.py); it goes out
unchanged but for the upstream model name, so OpenAI's built-in tools (web search, file
search, code interpreter, ...), `reasoning` items and their `encrypted_content` survive,
which the chat translation cannot carry. OpenAI's answer comes back byte for byte: whole in
`ChatResponse.raw`, and for a stream as one `VendorFrame` per event, which only the
Responses surface writes. Beside them the usual unified answer and events are read from
the same payloads, so dispatch meters, bills and records the call exactly as it does a chat
completion. Pure, apart from the stream decoder's own state.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from adapters.base import Opening
from adapters.openai.errors import classify_openai_error_body
from schemas.chat import ChatResponse, FinishReason, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.errors import Code, UpstreamError
from schemas.events import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    VendorFrame,
    usage_event,
)

PATH = "/responses"
_encode = msgspec.json.encode


# -- wire structs: only what the unified answer needs; every other field rides in the raw bytes


class _Content(Struct):
    type: str
    text: str | None = None
    refusal: str | None = None


class _Summary(Struct):
    text: str = ""


class _Item(Struct):
    type: str
    id: str | None = None
    content: list[_Content] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    input: str | None = None
    summary: list[_Summary] | None = None
    encrypted_content: str | None = None


class _InputDetails(Struct):
    cached_tokens: int | None = None


class _OutputDetails(Struct):
    reasoning_tokens: int | None = None


class _Usage(Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: _InputDetails | None = None
    output_tokens_details: _OutputDetails | None = None


class _Incomplete(Struct):
    reason: str | None = None


class _Response(Struct):
    id: str = ""
    model: str = ""
    status: str | None = None
    output: list[_Item] = msgspec.field(default_factory=list)
    usage: _Usage | None = None
    incomplete_details: _Incomplete | None = None


class _Event(Struct):
    type: str
    response: _Response | None = None
    item: _Item | None = None
    output_index: int = 0
    delta: str | None = None
    code: str | None = None
    message: str | None = None


_decode_response = msgspec.json.Decoder(_Response).decode
_decode_event = msgspec.json.Decoder(_Event).decode


def to_responses_body(body: dict[str, Any], model: str, stream: bool) -> bytes:
    """The caller's body for OpenAI, with the route's upstream model name."""
    return _encode({**body, "model": model, "stream": stream})


def from_responses_usage(usage: _Usage | None) -> Usage:
    if usage is None:
        return Usage()
    out = Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    if usage.input_tokens_details is not None and usage.input_tokens_details.cached_tokens:
        out.cached_input_tokens = usage.input_tokens_details.cached_tokens
    if usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens:
        out.reasoning_tokens = usage.output_tokens_details.reasoning_tokens
    return out


def map_responses_status(response: _Response, called: bool) -> tuple[FinishReason, str | None]:
    """A response's status (and why it is incomplete) as the unified finish reason."""
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        return ("content_filter" if reason == "content_filter" else "length"), reason
    if response.status == "failed":
        return "error", "failed"
    return ("tool_calls" if called else "stop"), response.status


def _call(item: _Item) -> ToolCall | None:
    if item.type == "function_call" and item.call_id and item.name:
        return ToolCall(id=item.call_id, function=FunctionCall(item.name, item.arguments or ""))
    if item.type == "custom_tool_call" and item.call_id and item.name:
        arguments = _encode({"input": item.input or ""}).decode()
        return ToolCall(id=item.call_id, function=FunctionCall(item.name, arguments))
    return None


def from_responses_answer(content: bytes, provider: str) -> ChatResponse:
    try:
        response = _decode_response(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UpstreamError(
            Code.SERVER_ERROR, f"{provider} sent a response that is not a Responses object", provider=provider
        ) from error
    text: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[ReasoningPart] = []
    for item in response.output:
        if item.type == "message":
            text.extend(part.text or part.refusal or "" for part in item.content or ())
        elif item.type == "reasoning":
            summary = "\n\n".join(part.text for part in item.summary or ())
            reasoning.append(ReasoningPart(text=summary))
        else:
            call = _call(item)
            if call is not None:
                calls.append(call)
    reason, raw_reason = map_responses_status(response, bool(calls))
    answer = ChatResponse(
        id=response.id,
        model=response.model,
        content="".join(text) or None,
        finish_reason=reason,
        raw_finish_reason=raw_reason,
        usage=from_responses_usage(response.usage),
        raw=msgspec.Raw(content),
    )
    if calls:
        answer.tool_calls = calls
    if reasoning:
        answer.reasoning = reasoning
    return answer


class ResponsesStreamDecoder:
    """One OpenAI Responses stream: each event passed on whole as a `VendorFrame`, then what
    it means in unified events. `response.failed` and `error` raise, so dispatch ends the
    stream with its error event (the surface then writes `error` and `response.failed`)."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.opening: Opening | None = None
        self._calls: dict[int, int] = {}
        """A call item's output_index → its unified tool-call index."""
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        if self.done or data == "[DONE]":
            return []
        try:
            event = _decode_event(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise UpstreamError(
                Code.SERVER_ERROR,
                f"{self._provider} sent a stream event that is not valid",
                provider=self._provider,
            ) from error
        if event.type in {"error", "response.failed"}:
            raise self._failure(data, event)
        events: list[StreamEvent] = []
        if self.opening is None:
            response = event.response or _Response()
            self.opening = Opening(id=response.id, model=response.model)
        events.append(VendorFrame(data=msgspec.Raw(data.encode())))
        events.extend(self._meaning(event))
        return events

    def _meaning(self, event: _Event) -> list[StreamEvent]:
        kind = event.type
        if kind == "response.output_text.delta" and event.delta:
            return [TextDelta(index=0, text=event.delta)]
        if kind == "response.reasoning_summary_text.delta" and event.delta:
            return [ReasoningDelta(index=0, text=event.delta)]
        if kind == "response.output_item.added" and event.item is not None:
            call = _call(event.item)
            if call is None:
                return []
            index = self._calls[event.output_index] = len(self._calls)
            return [ToolCallStart(index=index, id=call.id, name=call.function.name)]
        if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            call_index = self._calls.get(event.output_index)
            if call_index is None or not event.delta:
                return []
            return [ToolCallDelta(index=call_index, arguments=event.delta)]
        if kind in ("response.completed", "response.incomplete") and event.response is not None:
            self.done = True
            reason, raw_reason = map_responses_status(event.response, bool(self._calls))
            return [usage_event(from_responses_usage(event.response.usage)), Finish(reason, raw_reason)]
        return []

    def _failure(self, data: str, event: _Event) -> UpstreamError:
        """OpenAI's in-stream error, classified like an error body: `{"error": {...}}` is what
        the classifier reads, built from the event's `code` and `message` (or the failed
        response's `error`)."""
        payload: Any = msgspec.json.decode(data)
        error = (
            payload.get("error") if event.type == "error" else (payload.get("response") or {}).get("error")
        )
        if not isinstance(error, dict):
            error = {"code": event.code, "message": event.message, "type": "server_error"}
        body = _encode({"error": {"type": error.get("type") or "server_error", **error}})
        return classify_openai_error_body(200, body, self._provider, {})

    def close(self) -> list[StreamEvent]:
        """Nothing is held back: the `Finish` goes out with `response.completed` or
        `.incomplete`. A stream that ends before either has none, and the stream loop
        (adapters/transport.py `decode_stream`, the one place that decides it) says it was cut."""
        self.done = True
        return []


__all__ = [
    "PATH",
    "ResponsesStreamDecoder",
    "from_responses_answer",
    "from_responses_usage",
    "map_responses_status",
    "to_responses_body",
]
