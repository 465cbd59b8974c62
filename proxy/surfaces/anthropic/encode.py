"""The unified answer → Anthropic's wire: a `message`, or its stream of named events. Pure,
apart from the async generator that frames a stream.

Stream mapping: `start` → `message_start` (usage still 0: it is known at the end, and the
`message_delta` carries the totals, input included); each run of text, reasoning or one tool
call → a content block (`content_block_start`, `text_delta` / `thinking_delta` +
`signature_delta` / `input_json_delta`, `content_block_stop`); a reasoning part ends at its
signature, a redacted one is a whole `redacted_thinking` block; `finish` closes the open
block; `billing` → `message_delta` (stop reason, usage, our `cost`) and `message_stop`;
`error` → `event: error`, as Anthropic reports a failure after the stream began.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from msgspec import UNSET

from proxy.dispatch.call import Completed
from proxy.surfaces.anthropic.errors import anthropic_error
from schemas.anthropic_surface import (
    Block,
    BlockDelta,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    InputJsonDelta,
    Message,
    MessageDelta,
    MessagesPing,
    MessageStart,
    MessagesTextDelta,
    MessageStop,
    MessagesUsage,
    ModelInfo,
    ModelPage,
    RedactedThinkingBlock,
    SignatureDelta,
    StopDelta,
    TextBlock,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
)
from schemas.chat import FinishReason, Usage
from schemas.events import (
    Billing,
    Done,
    ErrorEvent,
    Finish,
    Ping,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageEvent,
    usage_of,
)
from schemas.native import CatalogueEntry

_encode = msgspec.json.Encoder().encode
_decode_json = msgspec.json.decode

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
    "other": "end_turn",
}
ANTHROPIC_STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
"""A vendor's raw reason that is one of these is Anthropic's own, finer than the unified one."""


def stop_reason(reason: FinishReason, raw: str | None) -> str:
    if raw is not None and raw in ANTHROPIC_STOP_REASONS:
        return raw
    return STOP_REASONS[reason]


def anthropic_usage(usage: Usage, cost: float | None) -> MessagesUsage:
    """Anthropic's `input_tokens` leaves out input read from and written to the cache, which
    have their own fields."""
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    written = usage.cache_write_input_tokens if usage.cache_write_input_tokens is not UNSET else 0
    out = MessagesUsage(
        input_tokens=max(usage.input_tokens - cached - written, 0),
        output_tokens=usage.output_tokens,
        cost=cost,
    )
    if usage.cached_input_tokens is not UNSET:
        out.cache_read_input_tokens = cached
    if usage.cache_write_input_tokens is not UNSET:
        out.cache_creation_input_tokens = written
    return out


def tool_input(arguments: str) -> object:
    try:
        return _decode_json(arguments) if arguments.strip() else {}
    except msgspec.DecodeError:
        return {}


def to_message(done: Completed, message_id: str, model: str) -> Message:
    response = done.response
    blocks: list[Block] = []
    for part in response.reasoning or ():
        if part.redacted is not UNSET:
            blocks.append(RedactedThinkingBlock(data=part.redacted))
        else:
            signature = part.signature if part.signature is not UNSET else ""
            blocks.append(ThinkingBlock(thinking=part.text, signature=signature))
    if response.content:
        blocks.append(TextBlock(text=response.content))
    for call in response.tool_calls or ():
        blocks.append(
            ToolUseBlock(id=call.id, name=call.function.name, input=tool_input(call.function.arguments))
        )
    return Message(
        id=message_id,
        model=model,
        content=blocks,
        stop_reason=stop_reason(response.finish_reason, response.raw_finish_reason),
        usage=anthropic_usage(response.usage, done.billing.cost),
    )


def frame(name: bytes, payload: msgspec.Struct) -> bytes:
    return b"event: " + name + b"\ndata: " + _encode(payload) + b"\n\n"


class EventEncoder:
    """One stream's events; holds the open content block, each tool call's block index, the
    usage and stop reason until `billing` closes the message."""

    __slots__ = ("_ended", "_id", "_model", "_next", "_open", "_signed", "_stop", "_tools", "_usage")

    def __init__(self, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = model
        self._next = 0
        self._open: tuple[str, int] | None = None
        """(kind, block index) of the block still open."""
        self._signed = False
        self._tools: dict[int, int] = {}
        """Tool-call position → content-block index."""
        self._usage = Usage()
        self._stop = "end_turn"
        self._ended = False

    def _start(self, kind: str, block: Block) -> bytes:
        out = self._close()
        index = self._next
        self._next += 1
        self._open = (kind, index)
        self._signed = False
        return out + frame(b"content_block_start", ContentBlockStart(index=index, content_block=block))

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        _, index = self._open
        self._open = None
        return frame(b"content_block_stop", ContentBlockStop(index=index))

    def _delta(self, index: int, delta: BlockDelta) -> bytes:
        return frame(b"content_block_delta", ContentBlockDelta(index=index, delta=delta))

    def _in(self, kind: str, block: Block) -> tuple[bytes, int]:
        """Make sure a block of `kind` is open; the bytes that took and its index."""
        if self._open is not None and self._open[0] == kind and not (kind == "thinking" and self._signed):
            return b"", self._open[1]
        out = self._start(kind, block)
        assert self._open is not None
        return out, self._open[1]

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        if event.redacted is not UNSET:
            out = self._start("redacted", RedactedThinkingBlock(data=event.redacted))
            return out + self._close()
        out = b""
        if event.text:
            opened, index = self._in("thinking", ThinkingBlock(thinking="", signature=""))
            out += opened + self._delta(index, ThinkingDelta(thinking=event.text))
        if event.signature is not UNSET:
            opened, index = self._in("thinking", ThinkingBlock(thinking="", signature=""))
            out += opened + self._delta(index, SignatureDelta(signature=event.signature))
            self._signed = True
        return out

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event; empty when the event has no Anthropic form."""
        if isinstance(event, TextDelta):
            if not event.text:
                return b""
            opened, index = self._in("text", TextBlock(text=""))
            return opened + self._delta(index, MessagesTextDelta(text=event.text))
        if isinstance(event, ToolCallDelta):
            block = self._tools.get(event.index)
            if block is None or not event.arguments:
                return b""
            return self._delta(block, InputJsonDelta(partial_json=event.arguments))
        if isinstance(event, ReasoningDelta):
            return self._reasoning(event)
        if isinstance(event, ToolCallStart):
            out = self._start("tool", ToolUseBlock(id=event.id, name=event.name, input={}))
            assert self._open is not None
            self._tools[event.index] = self._open[1]
            return out
        if isinstance(event, Start):
            usage = MessagesUsage(input_tokens=0, output_tokens=0)
            message = Message(id=self._id, model=self._model, content=[], stop_reason=None, usage=usage)
            start = MessageStart(message=message)
            if event.warnings:
                start.unigate_warnings = event.warnings
            return frame(b"message_start", start)
        if isinstance(event, UsageEvent):
            self._usage = usage_of(event)
            return b""
        if isinstance(event, Finish):
            self._stop = stop_reason(event.reason, event.raw_reason)
            return self._close()
        if isinstance(event, Billing):
            # after an error the message has ended: the billing that follows it is not sent
            return b"" if self._ended else self._end(event.cost)
        if isinstance(event, ErrorEvent):
            self._ended = True
            return frame(b"error", anthropic_error(event.code, event.message))
        if isinstance(event, Done):
            return b"" if self._ended else self._end(None)
        return frame(b"ping", MessagesPing()) if isinstance(event, Ping) else b""

    def _end(self, cost: float | None) -> bytes:
        self._ended = True
        delta = MessageDelta(
            delta=StopDelta(stop_reason=self._stop), usage=anthropic_usage(self._usage, cost)
        )
        return self._close() + frame(b"message_delta", delta) + frame(b"message_stop", MessageStop())


async def anthropic_events(events: AsyncIterator[StreamEvent], encoder: EventEncoder) -> AsyncIterator[bytes]:
    async for event in events:
        out = encoder.encode(event)
        if out:
            yield out


def to_anthropic_model_list(entries: list[CatalogueEntry]) -> ModelPage:
    data = [ModelInfo(id=entry.modelId, display_name=entry.modelId) for entry in entries]
    return ModelPage(
        data=data,
        has_more=False,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )
