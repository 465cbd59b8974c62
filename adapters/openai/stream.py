"""OpenAI `chat.completion.chunk` stream data → StreamEvents. Pure; tested straight from fixtures."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.base import Opening
from adapters.openai.errors import classify_openai_error_body
from adapters.openai.request import Dialect
from adapters.openai.response import arguments_text, from_openai_usage, map_openai_finish_reason
from adapters.openai.wire import WireMessage, WireUsage, decode_completion
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


def _text_chunk_events(index: int, chunks: list[Any]) -> list[StreamEvent]:
    """Delta content as a chunk list, OpenAI's way: its text chunks."""
    return [
        TextDelta(index=index, text=chunk["text"])
        for chunk in chunks
        if isinstance(chunk, dict) and chunk.get("type") == "text" and chunk.get("text")
    ]


class OpenAIStreamDecoder:
    """Turns `chat.completion.chunk` data lines into StreamEvents.

    Usage arrives after the finish reason (in a `choices: []` chunk), so the finish is held
    back and both are emitted, usage first, when the stream says `[DONE]` or ends.
    """

    __slots__ = (
        "_chunk_events",
        "_classify",
        "_finish",
        "_provider",
        "_tool_ids",
        "_usage",
        "_whole_tool_calls",
        "done",
        "opening",
    )

    def __init__(self, provider: str, dialect: Dialect | None = None) -> None:
        self._provider = provider
        self._classify = (dialect and dialect.classify_error) or classify_openai_error_body
        self._whole_tool_calls = dialect is not None and dialect.whole_tool_calls
        self._chunk_events = (dialect and dialect.content_chunks) or _text_chunk_events
        self.opening: Opening | None = None
        self._finish: str | None = None
        self._usage: WireUsage | None = None
        self._tool_ids: set[int] = set()
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            return self.close()
        try:
            chunk = decode_completion(data)
        except msgspec.DecodeError as error:
            raise not_json(self._provider, "a stream chunk") from error
        if chunk.error is not None or chunk.object == "error":
            raise self._classify(200, data.encode(), self._provider, {})
        events: list[StreamEvent] = []
        if self.opening is None:
            self.opening = Opening(id=chunk.id, model=chunk.model)
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                self._delta(choice.index, delta, events)
            if choice.finish_reason:
                self._finish = choice.finish_reason
        if chunk.finish_reason:
            self._finish = chunk.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        return events

    def _delta(self, index: int, delta: WireMessage, events: list[StreamEvent]) -> None:
        reasoning = delta.reasoning or delta.reasoning_content
        if reasoning:
            events.append(ReasoningDelta(index=index, text=reasoning))
        if isinstance(delta.content, list):
            events.extend(self._chunk_events(index, delta.content))
        elif delta.content:
            events.append(TextDelta(index=index, text=delta.content))
        if delta.refusal:
            events.append(TextDelta(index=index, text=delta.refusal))
        for call in delta.tool_calls or ():
            function = call.function
            position = len(self._tool_ids) if self._whole_tool_calls else call.index
            if position not in self._tool_ids:
                self._tool_ids.add(position)
                name = (function.name or "") if function else ""
                events.append(ToolCallStart(index=position, id=call.id or f"call_{position}", name=name))
            if function is not None and function.arguments:
                events.append(ToolCallDelta(index=position, arguments=arguments_text(function.arguments)))

    def close(self) -> list[StreamEvent]:
        """The stream ended; emit usage and finish once. A stream with no finish was cut."""
        if self.done:
            return []
        self.done = True
        if self._finish is None:
            return []  # cut: adapters/transport.py `decode_stream` says so
        usage = from_openai_usage(self._usage)
        return [
            usage_event(usage),
            Finish(reason=map_openai_finish_reason(self._finish), raw_reason=self._finish),
        ]
