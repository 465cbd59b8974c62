"""uvicorn's httptools protocol with a request-receipt deadline (slowloris).

uvicorn arms no timer before a connection's first response: a client that opens a
connection and never finishes its headers, or trickles its body, holds it forever. Here
every request must be received in full within `deadline` seconds of the connection
opening (or, on a kept-alive connection, of the request starting), else the connection is
closed. Idle kept-alive connections stay under uvicorn's own keep-alive timeout.

It also sends HTTP/1.1 response trailers (proxy/server/trailers.py), which uvicorn's
protocol does not: the raw-text stream's billing goes in them.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from proxy.server.trailers import EXTENSION, TrailerCycle

DEFAULT_DEADLINE = 15.0


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
