"""An incremental Server-Sent Events decoder for upstream streams.

Fed raw byte chunks split anywhere (inside a UTF-8 character, between CR and LF), it yields
complete events per the WHATWG rules: `event:` and `data:` fields (one optional space after
the colon), multi-line data joined by LF, `:` comment lines ignored, an event dispatched on
a blank line. Decoding to text happens per complete line, so a split character is safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple


class ServerSentEvent(NamedTuple):
    event: str
    data: str


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buffer = self._buffer + chunk
        events: list[ServerSentEvent] = []
        start = 0
        length = len(buffer)
        while start < length:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf != -1 else length)
            if cr != -1:
                end, next_start = cr, cr + 1
                if next_start < length:
                    if buffer[next_start] == 0x0A:
                        next_start += 1
                else:
                    self._pending_cr = True
            elif lf != -1:
                end, next_start = lf, lf + 1
            else:
                break
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = next_start
        self._buffer = buffer[start:]
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: a final event without its blank line still counts."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            event = self._line(self._buffer)
            self._buffer = b""
            if event is not None:
                events.append(event)
        if self._data:
            events.append(ServerSentEvent(self._event, "\n".join(self._data)))
            self._data = []
            self._event = ""
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            if not self._data:
                self._event = ""
                return None
            event = ServerSentEvent(self._event, "\n".join(self._data))
            self._data = []
            self._event = ""
            return event
        if raw[0] == 0x3A:  # ':' comment
            return None
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


async def iterate_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
