"""Bytez model-container streams → StreamEvents. Pure.

A container answers a streamed `POST /run` in one of two ways: its OpenAI mode sends SSE
`data:` frames of `chat.completion` objects with a `delta` (the finish reason on the last
token, no usage) and `data: [DONE]`; its default mode sends the raw text tokens, nothing
else, under `text/event-stream` all the same. The first bytes tell which. A container that
cannot stream sends one JSON answer instead (`BytezWholeReply`).
"""

from __future__ import annotations

import codecs

from adapters.base import Opening
from adapters.bytez_worker.response import from_bytez_chat
from adapters.errors import scrub
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.openai_compat import worker_dialect
from adapters.sse import SSEDecoder
from adapters.workers import response_events
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, StreamEvent, TextDelta, UsageEvent

ERROR_MARKER = "INTERNAL_BYTEZ_ERROR:"
"""What a container writes into a raw stream when the model fails mid-generation."""


class BytezWholeReply:
    """A streamed request a container answered with one JSON body: read whole, then told as
    the events a stream of it would have carried (a `ChunkDecoder`, adapters/base.py)."""

    __slots__ = ("_body", "_provider", "opening")

    done = False

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._body = bytearray()
        self.opening: Opening | None = None

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._body += chunk
        return []

    def close(self) -> list[StreamEvent]:
        answer = from_bytez_chat(bytes(self._body), self._provider)
        self.opening = Opening(id=answer.id, model=answer.model)
        return response_events(answer)


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
                return self._raw(chunk)
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

    @property
    def opening(self) -> Opening | None:
        """An SSE stream's chunks say their id and model; raw text says nothing."""
        return self._openai.opening if self._mode == "sse" else None

    def close(self) -> list[StreamEvent]:
        """The body ended. A raw stream has no finish of its own: its end is the finish."""
        if self._finished:
            return []
        self._finished = True
        if self._mode is None:
            if self._pending.strip():
                self._mode = "raw"
                return [*self._raw(self._pending), *self.close_raw()]
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
