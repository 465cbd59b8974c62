"""Cohere v2 stream events → StreamEvents. Pure; tested straight from fixtures (see response.py
for `tool_plan` as reasoning)."""

from __future__ import annotations

import msgspec

from adapters.base import Opening
from adapters.cohere.errors import PROVIDER
from adapters.cohere.response import (
    as_content_list,
    from_cohere_usage,
    map_cohere_finish_reason,
)
from adapters.cohere.wire import (
    WireEvent,
    WireMessage,
    decode_event,
)
from adapters.errors import scrub
from adapters.replies import not_json
from schemas.errors import Code, UpstreamError
from schemas.events import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    usage_event,
)


class CohereStreamDecoder:
    """Turns Cohere stream events (their `data:` JSON) into StreamEvents.

    `message-end` carries the finish reason and usage, so it ends the stream: usage and
    finish are emitted there and `done` is set. Text and reasoning deltas use index 0 (one
    choice); tool calls are numbered 0, 1, ... in the order they start.
    """

    __slots__ = ("_model", "_secrets", "_tools", "done", "opening")

    def __init__(self, model: str, *secrets: str) -> None:
        self._model = model
        self._secrets = secrets
        self.opening: Opening | None = None
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
        if self.opening is None:
            self.opening = Opening(id=event.id or "", model=self._model)
        kind = event.type
        message = event.delta.message if event.delta is not None else None
        if kind in ("content-start", "content-delta") and message is not None:
            for item in as_content_list(message.content):
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
