"""Cohere payloads → ChatResponse and StreamEvents. Pure; tested straight from fixtures.

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
    WireEvent,
    WireMessage,
    WireToolCall,
    WireUsage,
    decode_event,
    decode_response,
)
from adapters.errors import scrub
from adapters.replies import FinishReasons, chat_response, not_json
from schemas.chat import ChatResponse, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.errors import Code, UpstreamError
from schemas.events import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    usage_event,
)

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


def _as_list(value: list[WireContent] | WireContent | str | None) -> list[WireContent]:
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
    for item in _as_list(message.content):
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


class CohereStreamDecoder:
    """Turns Cohere stream events (their `data:` JSON) into StreamEvents.

    `message-end` carries the finish reason and usage, so it ends the stream: usage and
    finish are emitted there and `done` is set. Text and reasoning deltas use index 0 (one
    choice); tool calls are numbered 0, 1, ... in the order they start.
    """

    __slots__ = ("_model", "_secrets", "_started", "_tools", "done")

    def __init__(self, model: str, *secrets: str) -> None:
        self._model = model
        self._secrets = secrets
        self._started = False
        self._tools: dict[int, int] = {}
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        if self.done or not data:
            return []
        if data == "[DONE]":
            return self.close()
        try:
            event = decode_event(data)
        except msgspec.DecodeError as error:
            raise not_json(PROVIDER, "a stream event") from error
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(Start(id=event.id or "", model=self._model, provider=PROVIDER))
        kind = event.type
        message = event.delta.message if event.delta is not None else None
        if kind in ("content-start", "content-delta") and message is not None:
            for item in _as_list(message.content):
                if item.thinking:
                    events.append(ReasoningDelta(index=0, text=item.thinking))
                if item.text:
                    events.append(TextDelta(index=0, text=item.text))
        elif kind == "tool-plan-delta" and message is not None and message.tool_plan:
            events.append(ReasoningDelta(index=0, text=message.tool_plan))
        elif kind in ("tool-call-start", "tool-call-delta") and message is not None:
            self._tool_call(event, message, events)
        elif kind == "message-end":
            events.extend(self._end(event))
        elif kind == "error" or (kind is None and event.message is not None):
            raise self._error(event.message or "the stream reported an error", Code.SERVER_ERROR)
        return events

    def _tool_call(self, event: WireEvent, message: WireMessage, events: list[StreamEvent]) -> None:
        call = message.tool_calls
        if isinstance(call, list):
            call = call[0] if call else None
        if call is None:
            return
        cohere_index = event.index if event.index is not None else len(self._tools)
        function = call.function
        if event.type == "tool-call-start" or cohere_index not in self._tools:
            position = self._tools.setdefault(cohere_index, len(self._tools))
            name = (function.name or "") if function is not None else ""
            events.append(ToolCallStart(index=position, id=call.id or f"call_{position}", name=name))
        if function is not None and function.arguments:
            events.append(ToolCallDelta(index=self._tools[cohere_index], arguments=function.arguments))

    def _end(self, event: WireEvent) -> list[StreamEvent]:
        delta = event.delta
        reason = delta.finish_reason if delta is not None else None
        if delta is not None and delta.error:
            code = Code.TIMEOUT if reason == "TIMEOUT" else Code.SERVER_ERROR
            raise self._error(delta.error, code)
        self.done = True
        usage = from_cohere_usage(delta.usage if delta is not None else None)
        return [usage_event(usage), Finish(reason=map_cohere_finish_reason(reason), raw_reason=reason)]

    def _error(self, message: str, code: Code) -> UpstreamError:
        self.done = True
        text = scrub(message, *self._secrets)
        return UpstreamError(code, f"{PROVIDER}: {text}", provider=PROVIDER, upstream_status=200)

    def close(self) -> list[StreamEvent]:
        """The stream ended (EOF or `[DONE]`); without a `message-end` it was cut."""
        if self.done:
            return []
        self.done = True
        return []  # cut: adapters/transport.py `decode_stream` says so
