"""The unified answer → OpenAI's wire: `chat.completion`, `chat.completion.chunk` frames ending in
`data: [DONE]`, embedding lists. Pure, apart from the async generator that frames a stream.

Stream mapping (StreamEvent → chunk): `start` → the role delta; `text_delta` → `content`;
`reasoning_delta` → `reasoning_content` (signature-only deltas have no OpenAI form);
`tool_call_start` → a `tool_calls` delta with id, type, name and `arguments: ""`;
`tool_call_delta` → an arguments piece; `finish` → an empty delta with `finish_reason`;
`usage` + `billing` → the final `choices: []` chunk with `usage` (and our `cost`) when the
client asked with `stream_options.include_usage`; `error` → `data: {"error": {...}}`, as
OpenAI sends a mid-stream failure; `done` → `data: [DONE]`; `ping` → an SSE comment.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import AsyncIterator

import msgspec
from msgspec import UNSET

from proxy.dispatch.call import Completed, Embedded
from proxy.surfaces.openai.errors import openai_error
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
)
from schemas.openai_surface import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    CompletionChoice,
    CompletionMessage,
    CompletionTokensDetails,
    CompletionUsage,
    Delta,
    DeltaFunction,
    DeltaToolCall,
    Embedding,
    EmbeddingList,
    EmbeddingUsage,
    PromptTokensDetails,
)

_encode = msgspec.json.Encoder().encode
DONE = b"data: [DONE]\n\n"
PING = b": ping\n\n"

FINISH_REASONS: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "error": "stop",
    "other": "stop",
}
"""OpenAI has no `error` or `other`; a stream that failed ends with an error frame instead."""


def completion_usage(usage: Usage, cost: float | None) -> CompletionUsage:
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    reasoning = usage.reasoning_tokens if usage.reasoning_tokens is not UNSET else 0
    return CompletionUsage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
        cost=cost,
    )


def to_chat_completion(done: Completed, completion_id: str, model: str, created: int) -> ChatCompletion:
    response = done.response
    message = CompletionMessage(content=response.content)
    if response.tool_calls:
        message.tool_calls = response.tool_calls
    reasoning = "".join(part.text for part in response.reasoning or ())
    if reasoning:
        message.reasoning_content = reasoning
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=model,
        choices=[
            CompletionChoice(index=0, message=message, finish_reason=FINISH_REASONS[response.finish_reason])
        ],
        usage=completion_usage(response.usage, done.billing.cost),
    )


def _frame(payload: msgspec.Struct) -> bytes:
    return b"data: " + _encode(payload) + b"\n\n"


class ChunkEncoder:
    """One stream's chunks; holds its id, the usage seen so far and the `include_usage` wish."""

    __slots__ = ("_created", "_failed", "_id", "_include_usage", "_model", "_usage")

    def __init__(self, completion_id: str, model: str, created: int, include_usage: bool) -> None:
        self._id = completion_id
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._failed = False
        self._usage = Usage()

    def _chunk(self, delta: Delta, finish_reason: str | None = None) -> bytes:
        chunk = ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )
        if self._include_usage:
            chunk.usage = None
        return _frame(chunk)

    def _first_chunk(self, start: Start) -> bytes:
        chunk = ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[ChunkChoice(index=0, delta=Delta(role="assistant", content=""), finish_reason=None)],
        )
        if self._include_usage:
            chunk.usage = None
        if start.warnings:
            chunk.unigate_warnings = start.warnings
        return _frame(chunk)

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes for one event; empty when the event has no OpenAI form."""
        if isinstance(event, TextDelta):
            return self._chunk(Delta(content=event.text)) if event.text else b""
        if isinstance(event, ToolCallDelta):
            call = DeltaToolCall(index=event.index, function=DeltaFunction(arguments=event.arguments))
            return self._chunk(Delta(tool_calls=[call]))
        if isinstance(event, ToolCallStart):
            function = DeltaFunction(name=event.name, arguments="")
            call = DeltaToolCall(index=event.index, id=event.id, type="function", function=function)
            return self._chunk(Delta(tool_calls=[call]))
        if isinstance(event, ReasoningDelta):
            return self._chunk(Delta(reasoning_content=event.text)) if event.text else b""
        if isinstance(event, Start):
            return self._first_chunk(event)
        if isinstance(event, UsageEvent):
            self._usage = Usage(
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cached_input_tokens=event.cached_input_tokens,
                reasoning_tokens=event.reasoning_tokens,
            )
            return b""
        if isinstance(event, Finish):
            return self._chunk(Delta(), FINISH_REASONS[event.reason])
        if isinstance(event, Billing):
            # after an error frame the SDK has raised: the billing that follows is not sent
            return self._usage_chunk(event) if self._include_usage and not self._failed else b""
        if isinstance(event, ErrorEvent):
            self._failed = True
            return _frame(openai_error(event.code, event.message))
        if isinstance(event, Done):
            return DONE
        return PING if isinstance(event, Ping) else b""

    def _usage_chunk(self, billing: Billing) -> bytes:
        chunk = ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[],
            usage=completion_usage(self._usage, billing.cost),
        )
        return _frame(chunk)


async def openai_chunks(events: AsyncIterator[StreamEvent], encoder: ChunkEncoder) -> AsyncIterator[bytes]:
    async for event in events:
        frame = encoder.encode(event)
        if frame:
            yield frame


def _base64_floats(vector: list[float]) -> str:
    """OpenAI's base64 embeddings: little-endian float32, what the openai SDK decodes by default."""
    values = array("f", vector)
    if sys.byteorder != "little":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def to_embedding_list(done: Embedded, model: str, encoding_format: str) -> EmbeddingList:
    vectors = done.response.vectors
    data = [
        Embedding(index=i, embedding=_base64_floats(v) if encoding_format == "base64" else v)
        for i, v in enumerate(vectors)
    ]
    tokens = done.response.usage.input_tokens
    usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens, cost=done.billing.cost)
    return EmbeddingList(data=data, model=model, usage=usage)
