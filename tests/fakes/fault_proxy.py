"""A TCP fault proxy: Toxiproxy's toxics in a small asyncio fixture (no Toxiproxy package here).

It sits between the gateway and a fake vendor on 127.0.0.1 and damages the vendor's side
of each connection on demand, so the gateway meets the faults real networks produce, on
real sockets: added latency, a bandwidth cap, data sliced into tiny segments, a clean cut
(FIN) after N bytes, a reset (RST, through SO_LINGER 0) after N bytes, a black hole that
accepts and then never answers, and "down" (the port refuses connections).

Byte limits count the current response: the count restarts whenever the client sends
(HTTP/1.1 without pipelining), so a pooled keep-alive connection is damaged exactly like a
fresh one. Toxics are read live, so a test may change them between requests. Forwarding
awaits `drain()`, so a stalled reader stalls the vendor instead of filling our memory.
The proxy runs in its own thread and event loop, like `ServerThread`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

_READ = 64 * 1024


@dataclass
class Toxics:
    latency: float = 0.0
    """Seconds added before each piece of vendor data is forwarded."""
    bandwidth: int | None = None
    """Bytes per second, vendor → client."""
    slice_size: int | None = None
    """Forward vendor data in segments of at most this many bytes ..."""
    slice_delay: float = 0.0
    """... with this pause between them."""
    limit_data: int | None = None
    """Close both sides cleanly (FIN) after this many response bytes."""
    reset_peer: int | None = None
    """Reset the client's connection (RST) after this many response bytes; 0: at once."""
    black_hole: bool = False
    """Accept, read and drop what the client sends, never connect upstream, never answer."""


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    response_bytes: int = 0
    response: bytearray = field(default_factory=bytearray)


class FaultProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1", socket_buffer: int | None = None) -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.socket_buffer = socket_buffer
        """SO_SNDBUF/SO_RCVBUF for the proxy's own sockets, so the proxy itself holds little."""
        self.toxics = Toxics()
        self.connections = 0
        """Connections accepted so far."""
        self.bytes_down = 0
        """Vendor bytes forwarded to clients so far."""
        self.responses: list[bytearray] = []
        """The raw bytes of each response forwarded (headers included), in order."""
        self.links: set[_Link] = set()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def down(self) -> None:
        """Stop listening: new connections are refused (ECONNREFUSED); open ones stay."""
        self._call(self._unlisten())

    def up(self) -> None:
        self._call(self._listen())

    def reset_all(self) -> None:
        """Reset every open client connection now (RST)."""
        self._call(self._close_all(reset=True))

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._unlisten()
        await self._close_all(reset=False)
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2)  # closed links end their tasks
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _close_all(self, reset: bool) -> None:
        for link in list(self.links):
            _close(link, reset=reset)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(writer)
        self._size_buffers(writer)
        self.links.add(link)
        try:
            if self.toxics.black_hole:
                while await reader.read(_READ):
                    pass
                return
            if self.toxics.reset_peer == 0:
                _close(link, reset=True)
                return
            try:
                upstream_reader, link.upstream = await asyncio.open_connection(self.host, self.upstream_port)
            except OSError:
                _close(link, reset=True)
                return
            self._size_buffers(link.upstream)
            pumps = [
                asyncio.create_task(self._pump_up(reader, link)),
                asyncio.create_task(self._pump_down(upstream_reader, link)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
        finally:
            self.links.discard(link)
            _close(link, reset=False)

    def _size_buffers(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if self.socket_buffer is not None and sock is not None:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, self.socket_buffer)

    async def _pump_up(self, reader: asyncio.StreamReader, link: _Link) -> None:
        assert link.upstream is not None
        while data := await reader.read(_READ):
            link.response_bytes = 0
            link.response = bytearray()
            self.responses.append(link.response)
            link.upstream.write(data)
            await link.upstream.drain()

    async def _pump_down(self, reader: asyncio.StreamReader, link: _Link) -> None:
        while data := await reader.read(_READ):
            toxics = self.toxics
            if toxics.latency:
                await asyncio.sleep(toxics.latency)
            ending: bool | None = None  # None: keep going; False: cut (FIN); True: reset (RST)
            for limit, reset in ((toxics.limit_data, False), (toxics.reset_peer, True)):
                if limit is not None and link.response_bytes + len(data) >= limit:
                    data, ending = data[: max(limit - link.response_bytes, 0)], reset
            paced = max(toxics.bandwidth // 20, 1) if toxics.bandwidth else None  # 50 ms worth
            size = toxics.slice_size or paced or len(data) or 1
            for offset in range(0, len(data), size):
                piece = data[offset : offset + size]
                if offset and toxics.slice_delay:
                    await asyncio.sleep(toxics.slice_delay)
                if toxics.bandwidth:
                    await asyncio.sleep(len(piece) / toxics.bandwidth)
                link.response_bytes += len(piece)
                link.response.extend(piece)
                self.bytes_down += len(piece)
                link.client.write(piece)
                await link.client.drain()
            if ending is not None:
                await asyncio.sleep(0.05)  # let the client read what came before the fault
                _close(link, reset=ending)
                return


def _close(link: _Link, reset: bool) -> None:
    if reset:
        sock = link.client.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        link.client.transport.abort()
    else:
        link.client.close()
    if link.upstream is not None:
        link.upstream.close()
