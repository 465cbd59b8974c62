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


class TrailerCycle(RequestResponseCycle):
    """uvicorn's cycle, with trailers, and with a stream's chunks written once per loop
    iteration: the chunks of a chunked response sent in one iteration (a vendor's burst of
    deltas, decoded at once) leave in one write at its end instead of one syscall each.
    Anything else sent (the last chunk, trailers) writes what is held first, in order."""

    _trailing = False
    """The response was started with trailers and is chunked: its end waits for them."""
    _awaiting = False
    _held: list[bytes] | None = None
    """Chunks framed and waiting for the end of this loop iteration (`_release`)."""

    def _release(self) -> None:
        held, self._held = self._held, None
        if held and not self.disconnected and not self.transport.is_closing():
            self.transport.write(b"".join(held))

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
                chunk = b"%x\r\n%s\r\n" % (len(body), body)
                if self._held is None:
                    self._held = [chunk]
                    asyncio.get_running_loop().call_soon(self._release)
                else:
                    self._held.append(chunk)
            return
        if self._held:
            self._release()
        if kind == "http.response.start" and not self.response_started:
            await super().send(message)
            self._trailing = bool(message.get("trailers")) and bool(self.chunked_encoding)
            return
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
