"""The unified stream → the Responses API's `response.*` events, each with its `sequence_number`.

An item opens when its first delta arrives (`response.created` and `.in_progress` open the
stream before that); a stream OpenAI's own `/responses` serves is passed on by
passthrough_stream.py instead; `response.completed` (or `.incomplete`) closes
a stream that ended well, and one that fails after it started ends with `error` and
`response.failed`, never with `completed`. Signatures reach the client only when it asked
with `include: ["reasoning.encrypted_content"]`; the stored response always keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from proxy.surfaces.responses.encode import (
    ENCRYPTED_CONTENT,
    ResponseMeta,
    call_item,
    for_client,
    response_object,
    response_usage,
    status_of,
)
from proxy.surfaces.responses.passthrough_stream import PassthroughStream
from proxy.surfaces.responses.reasoning import encrypted_content
from schemas.chat import FinishReason, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.events import (
    Billing,
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
    VendorFrame,
    usage_of,
)
from schemas.responses_surface import (
    OutputCustomToolCall,
    OutputFunctionCall,
    OutputItem,
    OutputMessage,
    OutputReasoning,
    OutputText,
    ResponseError,
    SummaryText,
)

_encode = msgspec.json.Encoder().encode
PING = b": ping\n\n"


@dataclass
class _Open:
    output_index: int
    item: OutputItem
    text: str = ""
    upstream: str = ""
    """A tool call's function name as the vendor knows it."""


class ResponseStreamEncoder:
    """One stream's events. An item opens when its first delta arrives and closes when an
    item of another kind (or the end) comes; tool calls stay open until the end, since a
    vendor may interleave their arguments."""

    def __init__(self, meta: ResponseMeta, include: list[str] | None) -> None:
        self.meta = meta
        self._provider = ""
        self._include = include
        self._sequence = 0
        self._output: list[OutputItem] = []
        self._current: _Open | None = None
        self._calls: dict[int, _Open] = {}
        self._reasoning: list[ReasoningPart] = []
        self._usage = Usage()
        self._cost: float | None = None
        self._finish: FinishReason = "stop"
        self._failed: ErrorEvent | None = None
        self._opened = False
        self._passthrough: PassthroughStream | None = None
        self.final: dict[str, Any] | None = None
        """The finished response object (completed, incomplete or failed; signatures kept),
        once the stream ended."""

    @property
    def provider(self) -> str:
        """Who answered, from the stream's `start` event."""
        return self._provider

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"

    def _item(self, item: OutputItem) -> dict[str, Any]:
        builtins: dict[str, Any] = msgspec.to_builtins(item)
        if self._include is None or ENCRYPTED_CONTENT not in self._include:
            builtins.pop("encrypted_content", None)
        return builtins

    def _snapshot(self, status: str) -> dict[str, Any]:
        return for_client(response_object(self.meta, [], status), self._include)

    @property
    def passthrough(self) -> bool:
        """Whether OpenAI's own Responses stream is being passed on."""
        return self._passthrough is not None

    def _opening(self) -> bytes:
        if self._opened:
            return b""
        self._opened = True
        snapshot = self._snapshot("in_progress")
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def _add(self, item: OutputItem, in_progress: dict[str, Any]) -> tuple[_Open, bytes]:
        opened = _Open(len(self._output), item)
        self._output.append(item)
        frame = self._event("response.output_item.added", output_index=opened.output_index, item=in_progress)
        return opened, frame

    def _close_current(self) -> bytes:
        current = self._current
        if current is None:
            return b""
        self._current = None
        item = current.item
        index = current.output_index
        if isinstance(item, OutputReasoning):
            frames = b""
            if current.text:
                part: dict[str, Any] = {"type": "summary_text", "text": current.text}
                common: dict[str, Any] = {"item_id": item.id, "output_index": index, "summary_index": 0}
                frames += self._event("response.reasoning_summary_text.done", **common, text=current.text)
                frames += self._event("response.reasoning_summary_part.done", **common, part=part)
                item.summary = [SummaryText(current.text)]
            for part_ in self._reasoning:
                content = encrypted_content(self._provider, part_)
                if content is not None:
                    item.encrypted_content = content
            return frames + self._event(
                "response.output_item.done", output_index=index, item=self._item(item)
            )
        assert isinstance(item, OutputMessage)
        item.content = [OutputText(current.text)]
        common = {"item_id": item.id, "output_index": index, "content_index": 0}
        part = {
            "type": "output_text",
            "text": current.text,
            "annotations": [],
            "logprobs": [],
        }
        return (
            self._event("response.output_text.done", **common, text=current.text, logprobs=[])
            + self._event("response.content_part.done", **common, part=part)
            + self._event("response.output_item.done", output_index=index, item=self._item(item))
        )

    def _reasoning_delta(self, event: ReasoningDelta) -> bytes:
        frames = b""
        current = self._current
        if current is None or not isinstance(current.item, OutputReasoning):
            frames += self._close_current()
            item = OutputReasoning(id=f"rs_{self.meta.id}_{len(self._output)}", summary=[])
            self._reasoning = []
            current, added = self._add(item, {"type": "reasoning", "id": item.id, "summary": []})
            self._current = current
            frames += added
        if event.signature is not UNSET or event.redacted is not UNSET:
            self._reasoning.append(ReasoningPart(signature=event.signature, redacted=event.redacted))
        if event.text:
            common = {"item_id": current.item.id, "output_index": current.output_index, "summary_index": 0}
            if not current.text:
                part = {"type": "summary_text", "text": ""}
                frames += self._event("response.reasoning_summary_part.added", **common, part=part)
            current.text += event.text
            frames += self._event("response.reasoning_summary_text.delta", **common, delta=event.text)
        return frames

    def _text_delta(self, event: TextDelta) -> bytes:
        frames = b""
        current = self._current
        if current is None or not isinstance(current.item, OutputMessage):
            frames += self._close_current()
            item = OutputMessage(
                id=f"msg_{self.meta.id}_{len(self._output)}", content=[], status="in_progress"
            )
            current, added = self._add(
                item,
                {
                    "type": "message",
                    "id": item.id,
                    "role": "assistant",
                    "status": "in_progress",
                    "content": [],
                },
            )
            self._current = current
            common = {"item_id": item.id, "output_index": current.output_index, "content_index": 0}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            frames += added + self._event("response.content_part.added", **common, part=part)
            item.status = "completed"
        current.text += event.text
        common = {"item_id": current.item.id, "output_index": current.output_index, "content_index": 0}
        return frames + self._event("response.output_text.delta", **common, delta=event.text, logprobs=[])

    def _call_start(self, event: ToolCallStart) -> bytes:
        frames = self._close_current()
        call = ToolCall(id=event.id, function=FunctionCall(name=event.name))
        item = call_item(f"fc_{self.meta.id}_{len(self._output)}", call, self.meta.tools)
        in_progress: dict[str, Any] = msgspec.to_builtins(item)
        in_progress["status"] = "in_progress"
        opened, added = self._add(item, in_progress)
        opened.upstream = event.name
        self._calls[event.index] = opened
        return frames + added

    def _call_delta(self, event: ToolCallDelta) -> bytes:
        opened = self._calls.get(event.index)
        if opened is None or not event.arguments:
            return b""
        opened.text += event.arguments
        kind = (
            "custom_tool_call_input"
            if isinstance(opened.item, OutputCustomToolCall)
            else "function_call_arguments"
        )
        return self._event(
            f"response.{kind}.delta",
            item_id=opened.item.id,
            output_index=opened.output_index,
            delta=event.arguments,
        )

    def _close_calls(self) -> bytes:
        frames = b""
        for opened in self._calls.values():
            item = opened.item
            assert isinstance(item, OutputFunctionCall | OutputCustomToolCall)
            call = ToolCall(
                id=item.call_id, function=FunctionCall(name=opened.upstream, arguments=opened.text)
            )
            done = call_item(item.id, call, self.meta.tools)
            self._output[opened.output_index] = done
            common = {"item_id": item.id, "output_index": opened.output_index}
            if isinstance(done, OutputCustomToolCall):
                frames += self._event("response.custom_tool_call_input.done", **common, input=done.input)
            else:
                frames += self._event(
                    "response.function_call_arguments.done",
                    **common,
                    name=done.name,
                    arguments=done.arguments,
                )
            frames += self._event(
                "response.output_item.done", output_index=opened.output_index, item=self._item(done)
            )
        self._calls.clear()
        return frames

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, Start):
            self._provider = event.provider
            return b""
        if isinstance(event, Ping):
            return PING
        if isinstance(event, Billing):
            self._cost = event.cost
            return b""
        if isinstance(event, ErrorEvent):
            self._failed = event
            return b""
        if isinstance(event, VendorFrame) and not self._opened:
            if self._passthrough is None:
                meta = self.meta
                self._passthrough = PassthroughStream(
                    meta.id, meta.model, meta.fields, self._include, self._event
                )
            return self._passthrough.frame(event)
        if self._passthrough is not None:
            return (
                b""  # the unified events read from OpenAI's: dispatch meters them, the client has the frames
            )
        return self._opening() + self._translated(event)

    def _translated(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._text_delta(event) if event.text else b""
        if isinstance(event, ReasoningDelta):
            return self._reasoning_delta(event)
        if isinstance(event, ToolCallStart):
            return self._call_start(event)
        if isinstance(event, ToolCallDelta):
            return self._call_delta(event)
        if isinstance(event, UsageEvent):
            self._usage = usage_of(event)
        elif isinstance(event, Finish):
            self._finish = event.reason
        return b""

    def finish(self) -> bytes:
        """The closing frames; `final` is set before they are returned, so the caller can
        store the response before the client reads that it is done."""
        if self._passthrough is not None:
            frames, self.final = self._passthrough.finish(self._failed, self._cost)
            return frames
        frames = self._opening() + self._close_current() + self._close_calls()
        usage = response_usage(self._usage, self._cost)
        if self._failed is not None:
            error = ResponseError(self._failed.code, self._failed.message)
            failed = response_object(self.meta, self._output, "failed", usage, error=error)
            self.final = msgspec.to_builtins(failed)
            return (
                frames
                + self._event("error", code=error.code, message=error.message, param=None)
                + self._event("response.failed", response=for_client(failed, self._include))
            )
        status, incomplete = status_of(self._finish)
        done = response_object(self.meta, self._output, status, usage, incomplete)
        self.final = msgspec.to_builtins(done)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return frames + self._event(kind, response=for_client(done, self._include))
