"""Anthropic stream events → StreamEvents. Pure; tested straight from fixtures.

Indexes follow the unified stream, not Anthropic's content-block index: text and reasoning
deltas carry the choice index (always 0), tool calls their position among this turn's tool
calls (0, 1, ...). A reasoning part ends where its `signature` delta arrives (Anthropic sends
it just before the thinking block stops); a redacted block arrives whole as one delta with
`redacted` set. Together they rebuild every ReasoningPart for the next turn.
"""

from __future__ import annotations

import msgspec

from adapters.anthropic.errors import classify_anthropic_error
from adapters.anthropic.response import from_anthropic_usage, map_anthropic_stop_reason, tool_arguments
from adapters.anthropic.wire import WireBlock, WireDelta, WireUsage, decode_event
from adapters.base import Opening
from adapters.replies import not_json
from schemas.events import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    usage_event,
)

_KNOWN = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "error",
    }
)
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens_details",
)


class AnthropicStreamDecoder:
    """Holds what an Anthropic stream spreads over its events: the tool-call position of each
    content block, the running usage totals, and the stop reason until `message_stop`."""

    __slots__ = ("_argued", "_provider", "_stop_reason", "_tools", "_usage", "done", "opening")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.opening: Opening | None = None
        self._tools: dict[int, int] = {}
        """Content-block index → tool-call position."""
        self._argued: set[int] = set()
        """Tool-call positions that received a non-empty arguments fragment."""
        self._usage = WireUsage()
        self._stop_reason: str | None = None
        self.done = False

    def feed(self, name: str, data: str) -> list[StreamEvent]:
        """One SSE event: its `event:` name and its `data:` text."""
        if name == "ping" or self.done:
            return []
        try:
            event = decode_event(data)
        except msgspec.DecodeError as error:
            if name not in _KNOWN:
                return []
            raise not_json(self._provider, "a stream event") from error
        kind = event.type or name
        if kind == "error":
            raise classify_anthropic_error(200, event.error, self._provider, {})
        if kind not in _KNOWN:
            return []
        events: list[StreamEvent] = []
        if self.opening is None:
            message = event.message
            self.opening = Opening(id=message.id, model=message.model) if message else Opening()
        if kind == "message_start" and event.message is not None:
            self._merge_usage(event.message.usage)
        elif kind == "content_block_start" and event.content_block is not None:
            self._block_start(event.index, event.content_block, events)
        elif kind == "content_block_delta" and event.delta is not None:
            self._block_delta(event.index, event.delta, events)
        elif kind == "content_block_stop":
            position = self._tools.get(event.index)
            if position is not None and position not in self._argued:
                self._argued.add(position)
                events.append(ToolCallDelta(index=position, arguments="{}"))
        elif kind == "message_delta":
            if event.delta is not None and event.delta.stop_reason is not None:
                self._stop_reason = event.delta.stop_reason
            self._merge_usage(event.usage)
        elif kind == "message_stop":
            events.extend(self.close())
        return events

    def _block_start(self, index: int, block: WireBlock, events: list[StreamEvent]) -> None:
        if block.type == "text" and block.text:
            events.append(TextDelta(index=0, text=block.text))
        elif block.type == "tool_use":
            position = len(self._tools)
            self._tools[index] = position
            events.append(
                ToolCallStart(index=position, id=block.id or f"toolu_{position}", name=block.name or "")
            )
            if block.input:
                self._argued.add(position)
                events.append(ToolCallDelta(index=position, arguments=tool_arguments(block.input)))
        elif block.type == "thinking":
            if block.thinking:
                events.append(ReasoningDelta(index=0, text=block.thinking))
            if block.signature:
                events.append(ReasoningDelta(index=0, text="", signature=block.signature))
        elif block.type == "redacted_thinking" and block.data is not None:
            events.append(ReasoningDelta(index=0, text="", redacted=block.data))

    def _block_delta(self, index: int, delta: WireDelta, events: list[StreamEvent]) -> None:
        if delta.type == "text_delta" and delta.text:
            events.append(TextDelta(index=0, text=delta.text))
        elif delta.type == "input_json_delta" and delta.partial_json:
            position = self._tools.get(index)
            if position is not None:
                self._argued.add(position)
                events.append(ToolCallDelta(index=position, arguments=delta.partial_json))
        elif delta.type == "thinking_delta" and delta.thinking:
            events.append(ReasoningDelta(index=0, text=delta.thinking))
        elif delta.type == "signature_delta" and delta.signature:
            events.append(ReasoningDelta(index=0, text="", signature=delta.signature))

    def _merge_usage(self, usage: WireUsage | None) -> None:
        """`message_delta` usage is a running total, and may leave out what did not change."""
        if usage is None:
            return
        for field in _USAGE_FIELDS:
            value = getattr(usage, field)
            if value is not None:
                setattr(self._usage, field, value)

    def close(self) -> list[StreamEvent]:
        """The stream ended; emit usage and finish once. A stream with no stop reason was cut."""
        if self.done:
            return []
        self.done = True
        if self._stop_reason is None:
            return []  # cut: adapters/transport.py `decode_stream` says so
        usage = from_anthropic_usage(self._usage)
        event = usage_event(usage)
        reason = self._stop_reason
        return [event, Finish(reason=map_anthropic_stop_reason(reason), raw_reason=reason)]
