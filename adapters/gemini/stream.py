"""Gemini stream chunks → StreamEvents. Pure; fed the `data:` payloads of the SSE stream.

Every chunk is a whole `GenerateContentResponse`: text arrives in pieces, a function call
arrives whole (so its arguments are one ToolCallDelta), `usageMetadata` repeats, and
`finishReason` comes only in the last chunk. There is no terminator, the stream just ends;
so usage and finish are emitted by `close()` at EOF, and a stream that ends without a
finish reason was cut.

Thought signatures become `ReasoningDelta`s carrying `signature`: a thought part's own
together with its text; a signature Gemini put on a content part as its own empty-text delta,
just before that part's events (see `adapters/gemini/messages.py` for the way back).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import msgspec
from msgspec import UNSET

from adapters.base import Opening
from adapters.gemini.errors import classify_gemini_error
from adapters.gemini.response import (
    arguments_of,
    from_gemini_usage,
    map_gemini_finish_reason,
    raise_if_blocked,
)
from adapters.gemini.tool_ids import synthesize_call_id
from adapters.gemini.wire import (
    WireError,
    WireErrorBody,
    WirePart,
    WireResponse,
    WireUsage,
    decode_error_any,
    decode_response,
    decode_response_list,
)
from adapters.replies import not_json
from adapters.sse import SSEDecoder
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


class GeminiStreamDecoder:
    __slots__ = (
        "_calls",
        "_finish",
        "_model",
        "_provider",
        "_response_id",
        "_secrets",
        "_usage",
        "done",
        "opening",
    )

    def __init__(self, provider: str, model: str, secrets: tuple[str, ...] = ()) -> None:
        self._secrets = secrets
        self._provider = provider
        self._model = model
        self.opening: Opening | None = None
        self._response_id = ""
        self._finish: str | None = None
        self._usage: WireUsage | None = None
        self._calls = 0
        self.done = False

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def finished(self) -> bool:
        """A finish reason has arrived (the stream may still carry a final usage)."""
        return self._finish is not None

    def feed(self, data: str | bytes) -> list[StreamEvent]:
        try:
            chunk = decode_response(data)
        except msgspec.DecodeError as error:
            raise not_json(self._provider, "a stream chunk") from error
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: WireResponse) -> list[StreamEvent]:
        raise_if_blocked(chunk, self._provider, *self._secrets)
        events: list[StreamEvent] = []
        if self.opening is None:
            self._response_id = chunk.response_id
            self.opening = Opening(id=chunk.response_id, model=chunk.model_version or self._model)
        if chunk.usage_metadata is not None:
            self._usage = chunk.usage_metadata
        for candidate in chunk.candidates:
            if candidate.index != 0:
                continue
            if candidate.content is not None:
                for part in candidate.content.parts:
                    self._part(part, events)
            if candidate.finish_reason:
                self._finish = candidate.finish_reason
        return events

    def _part(self, part: WirePart, events: list[StreamEvent]) -> None:
        signature = part.thought_signature or UNSET
        if part.thought:
            if part.text or signature is not UNSET:
                events.append(ReasoningDelta(index=0, text=part.text or "", signature=signature))
            return
        if signature is not UNSET:
            events.append(ReasoningDelta(index=0, text="", signature=signature))
        call = part.function_call
        if call is not None:
            position = self._calls
            self._calls += 1
            call_id = call.id or synthesize_call_id(self._response_id, position, call.name)
            events.append(ToolCallStart(index=position, id=call_id, name=call.name))
            events.append(ToolCallDelta(index=position, arguments=arguments_of(part)))
        elif part.text:
            events.append(TextDelta(index=0, text=part.text))

    def close(self) -> list[StreamEvent]:
        """The stream ended; emit usage and finish once. A stream with no finish was cut."""
        if self.done:
            return []
        self.done = True
        if self._finish is None:
            return []  # cut: adapters/transport.py `decode_stream` says so
        usage = from_gemini_usage(self._usage)
        event = usage_event(usage)
        reason = map_gemini_finish_reason(self._finish, self._calls > 0)
        return [event, Finish(reason=reason, raw_reason=self._finish)]


def find_bare_error(tail: bytes) -> WireError | None:
    """A failure Gemini wrote after a 200 as plain (often pretty-printed) JSON instead of a
    `data:` event, which an SSE parser skips; the SDK keeps a line buffer for the same case.
    Looked for only in the last bytes of a stream that ended without a finish."""
    lines = tail.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if not lines[start].lstrip().startswith((b"{", b"[")):
            continue
        try:
            parsed: WireErrorBody | list[WireErrorBody] = decode_error_any(b"\n".join(lines[start:]).strip())
        except msgspec.DecodeError:
            continue
        bodies = parsed if isinstance(parsed, list) else [parsed]
        for body in bodies:
            if body.error is not None:
                return body.error
    return None


class GeminiEventStream:
    """The `alt=sse` stream's bytes → events (a `ChunkDecoder`, adapters/base.py): SSE
    framing, plus the last bytes kept to find a bare JSON error Gemini may write instead
    of its finish. Read to the end: a final usage may follow the finish."""

    __slots__ = ("_decoder", "_frames", "_secrets", "_tail")

    done = False

    def __init__(self, decoder: GeminiStreamDecoder, secrets: tuple[str, ...] = ()) -> None:
        self._decoder = decoder
        self._frames = SSEDecoder()
        self._tail: deque[bytes] = deque(maxlen=4)
        self._secrets = secrets

    @property
    def opening(self) -> Opening | None:
        return self._decoder.opening

    def feed(self, chunk: bytes) -> Iterator[StreamEvent]:
        self._tail.append(chunk)
        for frame in self._frames.feed(chunk):
            yield from self._decoder.feed(frame.data)

    def close(self) -> Iterator[StreamEvent]:
        for frame in self._frames.flush():
            yield from self._decoder.feed(frame.data)
        error = None if self._decoder.finished else find_bare_error(b"".join(self._tail))
        if error is not None:
            raise classify_gemini_error(200, error, self._decoder.provider, {}, *self._secrets)
        yield from self._decoder.close()


class GeminiWholeStream:
    """A server that ignores `alt=sse` answers the stream as one JSON array (what the legacy
    SDK reads), or a single object; the chunks are the same either way, decoded at the end."""

    __slots__ = ("_body", "_decoder")

    done = False

    def __init__(self, decoder: GeminiStreamDecoder) -> None:
        self._decoder = decoder
        self._body = bytearray()

    @property
    def opening(self) -> Opening | None:
        return self._decoder.opening

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._body += chunk
        return []

    def close(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for reply in whole_stream_replies(bytes(self._body), self._decoder.provider):
            events += self._decoder.feed_chunk(reply)
        return events + self._decoder.close()


def whole_stream_replies(raw: bytes, provider: str = "gemini") -> list[WireResponse]:
    try:
        return decode_response_list(raw)
    except msgspec.DecodeError:
        pass
    try:
        return [decode_response(raw)]
    except msgspec.DecodeError as error:
        raise UpstreamError(
            Code.SERVER_ERROR, f"{provider} sent a stream that is neither SSE nor JSON", provider=provider
        ) from error
