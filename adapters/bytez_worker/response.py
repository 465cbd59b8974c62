"""Bytez model-container replies → StreamEvents, ChatResponse and vectors. Pure.

A container answers a streamed `POST /run` in one of two ways: its OpenAI mode sends SSE
`data:` frames of `chat.completion` objects with a `delta` (the finish reason on the last
token, no usage) and `data: [DONE]`; its default mode sends the raw text tokens, nothing
else, under `text/event-stream` all the same. The first bytes tell which. A container that
cannot stream sends one JSON answer instead, told apart by its content type. Its OpenAI mode
puts a non-streamed answer's `finish_reason` at the top level, not in the choice.
"""

from __future__ import annotations

import codecs
from typing import Any

import msgspec
from msgspec import Struct

from adapters.errors import scrub
from adapters.openai.response import OpenAIStreamDecoder, from_openai_response
from adapters.openai_compat import worker_dialect
from adapters.replies import chat_response
from adapters.sse import SSEDecoder
from adapters.workers import response_events
from schemas.chat import ChatResponse, Usage
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, Start, StreamEvent, TextDelta, UsageEvent

ERROR_MARKER = "INTERNAL_BYTEZ_ERROR:"
"""What a container writes into a raw stream when the model fails mid-generation."""


class _Generated(Struct):
    generated_text: str | list[dict[str, Any]] = ""


class _DefaultReply(Struct):
    output: list[_Generated] | None = None
    error: str | None = None


_decode_default = msgspec.json.Decoder(_DefaultReply).decode


def _broken(provider: str, what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"{provider} sent {what}", provider=provider)


def from_bytez_chat(raw: bytes, provider: str) -> ChatResponse:
    """One JSON chat answer: the OpenAI mode's `chat.completion`, or the default mode's
    `{"output": [{"generated_text": [...messages, {"role": "assistant", ...}]}]}`."""
    if b'"choices"' in raw:
        return from_openai_response(raw, provider, worker_dialect(provider))
    try:
        reply = _decode_default(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise _broken(provider, "a reply that cannot be read") from None
    if reply.error or not reply.output:
        raise _broken(provider, "a reply with no output")
    generated = reply.output[0].generated_text
    if isinstance(generated, list):
        last = generated[-1] if generated else {}
        content = last.get("content") if isinstance(last, dict) else None
        text = content if isinstance(content, str) else ""
    else:
        text = generated
    return chat_response(
        id="", model="", content=text, finish_reason="stop", raw_finish_reason=None, usage=Usage(), raw=raw
    )


class BytezWholeReply:
    """A streamed request a container answered with one JSON body: read whole, then told as
    the events a stream of it would have carried (a `ChunkDecoder`, adapters/base.py)."""

    __slots__ = ("_body", "_provider")

    done = False

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._body = bytearray()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._body += chunk
        return []

    def close(self) -> list[StreamEvent]:
        return response_events(from_bytez_chat(bytes(self._body), self._provider), self._provider)


class BytezStreamDecoder:
    """Feeds on raw body bytes (split anywhere); yields unified events in either mode."""

    __slots__ = ("_finished", "_frames", "_mode", "_openai", "_pending", "_provider", "_text")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._mode: str | None = None
        self._pending = b""
        self._frames = SSEDecoder()
        self._openai = OpenAIStreamDecoder(provider, worker_dialect(provider))
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._finished = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._mode is None:
            self._pending += chunk
            head = self._pending.lstrip()
            if len(head) < 5 and b"data:".startswith(head):
                return []  # only whitespace or a prefix of "data:" so far: either mode
            self._mode = "sse" if head.startswith(b"data:") else "raw"
            chunk, self._pending = self._pending, b""
            if self._mode == "raw":
                return [Start(id="", model="", provider=self._provider), *self._raw(chunk)]
        if self._mode == "sse":
            events: list[StreamEvent] = []
            for frame in self._frames.feed(chunk):
                if not self._openai.done:
                    events.extend(self._openai.feed(frame.data))
            return events
        return self._raw(chunk)

    def _raw(self, chunk: bytes) -> list[StreamEvent]:
        text = self._text.decode(chunk)
        if ERROR_MARKER in text:
            message = scrub(text.split(ERROR_MARKER, 1)[1].strip())[:300]
            raise UpstreamError(Code.SERVER_ERROR, f"{self._provider}: {message}", provider=self._provider)
        return [TextDelta(index=0, text=text)] if text else []

    @property
    def done(self) -> bool:
        return self._mode == "sse" and self._openai.done

    def close(self) -> list[StreamEvent]:
        """The body ended. A raw stream has no finish of its own: its end is the finish."""
        if self._finished:
            return []
        self._finished = True
        if self._mode is None:
            if self._pending.strip():
                self._mode = "raw"
                return [
                    Start(id="", model="", provider=self._provider),
                    *self._raw(self._pending),
                    *self.close_raw(),
                ]
            raise UpstreamError(
                Code.CONNECTION, f"{self._provider} sent an empty stream", provider=self._provider
            )
        if self._mode == "sse":
            events: list[StreamEvent] = []
            for frame in self._frames.flush():
                if not self._openai.done:
                    events.extend(self._openai.feed(frame.data))
            return events + self._openai.close()
        return self.close_raw()

    def close_raw(self) -> list[StreamEvent]:
        tail = self._text.decode(b"", final=True)
        events: list[StreamEvent] = [TextDelta(index=0, text=tail)] if tail else []
        return [*events, UsageEvent(), Finish(reason="stop", raw_reason=None)]


def to_vector(output: Any, provider: str) -> list[float]:
    """A feature-extraction output → one vector: `[d]`, `[[d]]`, or token vectors `[[t × d]]`
    / `[t × d]`, which are mean-pooled (what sentence-transformers does)."""
    value = output
    while isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        rows = [row for row in value if row and all(isinstance(x, int | float) for x in row)]
        width = len(rows[0]) if rows else 0
        if not rows or any(len(row) != width for row in rows) or len(rows) != len(value):
            raise _broken(provider, "feature-extraction output that is not a vector")
        return [sum(row[i] for row in rows) / len(rows) for i in range(width)]
    if isinstance(value, list) and value and all(isinstance(x, int | float) for x in value):
        return [float(x) for x in value]
    raise _broken(provider, "feature-extraction output that is not a vector")


class _RunReply(Struct):
    output: msgspec.Raw = msgspec.Raw(b"null")
    error: str | None = None


_decode_run = msgspec.json.Decoder(_RunReply).decode


def from_bytez_run(raw: bytes, provider: str) -> msgspec.Raw:
    """A task's `{"output": ...}`: the output exactly as the container gave it."""
    try:
        reply = _decode_run(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise _broken(provider, "a reply that cannot be read") from None
    if reply.error:
        message = scrub(reply.error)[:300]
        raise UpstreamError(Code.INVALID_REQUEST, f"{provider}: {message}", provider=provider)
    return reply.output
