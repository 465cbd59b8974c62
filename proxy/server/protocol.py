"""uvicorn's httptools protocol with a request-receipt deadline (slowloris).

uvicorn arms no timer before a connection's first response: a client that opens a
connection and never finishes its headers, or trickles its body, holds it forever. Here
every request must be received in full within `deadline` seconds of the connection
opening (or, on a kept-alive connection, of the request starting), else the connection is
closed. Idle kept-alive connections stay under uvicorn's own keep-alive timeout.

It also sends HTTP/1.1 response trailers (the ASGI `http.response.trailers` extension),
which uvicorn's protocol does not implement. A raw-text stream (the Bytez SDKs' format) has
no event to carry its billing: the cost is known only once the last byte is out. A client
that sent `TE: trailers` gets it as trailer fields after the last chunk (`Inference-Cost`,
...). The cycle below keeps uvicorn's behaviour for every other response; for one started
with `"trailers": True` it writes the final body chunk without the terminating `0` chunk,
waits for the app's `http.response.trailers` message, and writes the terminator with the
trailer fields.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

DEFAULT_DEADLINE = 15.0
EXTENSION = "http.response.trailers"
_FIELD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(rb"[\t\x20-\x7e]*")


def accepts_trailers(scope: Mapping[str, Any], te: str | None) -> bool:
    """The client said it takes trailers, and the server can send them."""
    wanted = any(part.strip().lower().startswith("trailers") for part in (te or "").split(","))
    return wanted and EXTENSION in (scope.get("extensions") or {})


class _Capture:
    """The cycle's transport while uvicorn writes a response's head: the bytes are kept."""

    __slots__ = ("transport", "written")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Joining:
    """The cycle's transport while uvicorn writes a body: its first write carries the bytes
    held before it (the head, chunks), so they leave in one system call; closing writes
    them first should no write have come."""

    __slots__ = ("held", "transport")

    def __init__(self, transport: asyncio.Transport, held: list[bytes]) -> None:
        self.transport = transport
        self.held = held

    def write(self, data: bytes) -> None:
        if self.held:
            self.held.append(data)
            data, self.held = b"".join(self.held), []
        self.transport.write(data)

    def flush(self) -> None:
        if self.held and not self.transport.is_closing():
            self.transport.write(b"".join(self.held))
        self.held = []

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class TrailerCycle(RequestResponseCycle):
    """uvicorn's cycle, with trailers, and with what a response sends in one loop iteration
    written once: the head waits for the body (a JSON answer is one write, not two), and the
    chunks of a chunked response sent in one iteration (a vendor's burst of deltas, decoded
    at once) leave in one write at its end instead of one syscall each. On loopback and on a
    LAN a write costs as much again in the kernel as the bytes' framing: uvicorn's two writes
    a JSON answer were ~120 µs of a request's CPU. Anything else sent (trailers, a body of
    a response with trailers) writes what is held first, in order; what is held when the
    iteration ends is written then, so no byte waits for a later iteration."""

    _trailing = False
    """The response was started with trailers and is chunked: its end waits for them."""
    _awaiting = False
    _held: list[bytes] | None = None
    """Chunks framed and waiting for the end of this loop iteration (`_release`)."""

    def _release(self) -> None:
        held, self._held = self._held, None
        if held and not self.disconnected and not self.transport.is_closing():
            self.transport.write(b"".join(held))

    def _hold(self, data: bytes) -> None:
        if self._held is None:
            self._held = [data]
            asyncio.get_running_loop().call_soon(self._release)
        else:
            self._held.append(data)

    async def _head(self, message: Any) -> None:
        """uvicorn's start of the response, its head held for the body to carry."""
        capture = _Capture(self.transport)
        self.transport = capture  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = capture.transport
        if capture.written:
            self._hold(b"".join(capture.written))

    async def _joined(self, message: Any) -> None:
        """uvicorn's body message, its first write carrying the held bytes."""
        held, self._held = self._held or [], None
        joining = _Joining(self.transport, held)
        self.transport = joining  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = joining.transport
            joining.flush()

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if self.disconnected:
            return
        if (
            kind == "http.response.body"
            and message.get("more_body", False)
            and self.chunked_encoding
            and self.response_started
            and not self.response_complete
            and self.scope["method"] != "HEAD"
        ):
            body = message.get("body", b"")
            if body:
                if self.flow.write_paused:
                    await self.flow.drain()
                self._hold(b"%x\r\n%s\r\n" % (len(body), body))
            return
        if kind == "http.response.start" and not self.response_started:
            await self._head(message)
            self._trailing = bool(message.get("trailers")) and bool(self.chunked_encoding)
            return
        if self._held:
            if kind == "http.response.body" and not self._trailing:
                await self._joined(message)
                return
            self._release()
        if kind == "http.response.body" and self._trailing and not self.response_complete:
            if message.get("more_body", False):
                await super().send(message)
                return
            if self.flow.write_paused:
                await self.flow.drain()
            body = message.get("body", b"")
            if body:
                self.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
            self._awaiting = True
            return
        if kind == EXTENSION and self._awaiting:
            fields = self.__dict__.setdefault("_fields", [])
            fields.extend(
                name + b": " + value + b"\r\n"
                for name, value in message.get("headers", [])
                if _FIELD.fullmatch(name) and _VALUE.fullmatch(value)  # never a split header
            )
            if message.get("more_trailers", False):
                return
            self.transport.write(b"0\r\n" + b"".join(fields) + b"\r\n")
            self._awaiting = False
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()
            return
        await super().send(message)


class ReceiptDeadlineProtocol(HttpToolsProtocol):
    deadline: ClassVar[float | None] = None
    """Seconds; None means read `server.receipt_timeout` from the config on first use."""

    _receipt: asyncio.TimerHandle | None = None

    @classmethod
    def _seconds(cls) -> float:
        if cls.deadline is None:
            from proxy.settings import ConfigError, load_settings

            try:
                cls.deadline = load_settings().config.server.receipt_timeout
            except ConfigError:
                cls.deadline = DEFAULT_DEADLINE
        return cls.deadline

    def _arm(self) -> None:
        if self._receipt is None:
            self._receipt = self.loop.call_later(self._seconds(), self._expire)

    def _disarm(self) -> None:
        if self._receipt is not None:
            self._receipt.cancel()
            self._receipt = None

    def _expire(self) -> None:
        self._receipt = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous and self.scope.get("http_version") == "1.1":
            # the ASGI task is created but has not run: it meets the trailer-capable cycle
            cycle.__class__ = TrailerCycle
            self.scope.setdefault("extensions", {})[EXTENSION] = {}

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
