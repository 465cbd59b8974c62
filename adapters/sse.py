"""An incremental Server-Sent Events decoder for upstream streams.

Fed raw byte chunks split anywhere (inside a UTF-8 character, between CR and LF), it yields
complete events per the WHATWG rules: CR, LF and CRLF line ends, `event:` and `data:` fields
(one optional space after the colon), multi-line data joined by LF, `:` comment lines
ignored, an event dispatched on a blank line. What a chunk completes (the buffer up to its
last line end) is decoded to text at once and split there, one decode per chunk rather than
one per line; the unfinished line stays bytes, so a character split across chunks is safe
(a line end is ASCII, never inside a UTF-8 character, so decoding lines together or apart
gives the same text, invalid bytes included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec


class ServerSentEvent(msgspec.Struct, frozen=True):
    """One dispatched event: its name ("" when it had no `event:` line) and its data."""

    event: str
    data: str


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._pending_cr = False
        """The last chunk ended on a CR: an LF opening the next one ends no second line."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._pending_cr:
            self._pending_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" not in buffer:  # the common case: LF line ends alone
            end = buffer.rfind(b"\n")
            if end < 0:
                self._buffer = buffer
                return []
            self._buffer = buffer[end + 1 :]
            return self._lines(buffer[:end].decode("utf-8", errors="replace").split("\n"))
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if end < 0:
            self._buffer = buffer
            return []
        self._pending_cr = end == len(buffer) - 1 and buffer[end] == 0x0D
        self._buffer = buffer[end + 1 :]
        text = buffer[: end + 1].decode("utf-8", errors="replace")
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        lines.pop()  # the text ends on a line end: what follows it is not a line
        return self._lines(lines)

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: a final event without its blank line still counts."""
        lines = [self._buffer.decode("utf-8", errors="replace")] if self._buffer else []
        self._buffer = b""
        events = self._lines(lines)
        if self._data:
            events.append(ServerSentEvent(self._event, "\n".join(self._data)))
            self._data = []
            self._event = ""
        return events

    def _lines(self, lines: list[str]) -> list[ServerSentEvent]:
        """Complete lines → the events they dispatch; the event being read stays behind."""
        events: list[ServerSentEvent] = []
        data = self._data
        event = self._event
        for line in lines:
            if line[:6] == "data: ":  # nearly every line a vendor sends
                data.append(line[6:])
            elif not line:
                if data:
                    events.append(ServerSentEvent(event, "\n".join(data)))
                    data = []
                event = ""
            elif line[0] != ":":  # ':' opens a comment
                name, colon, value = line.partition(":")
                if colon and value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event = value
        self._data = data
        self._event = event
        return events


async def iterate_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
