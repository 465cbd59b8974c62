"""The fake-vendor kit: a scriptable HTTP server on 127.0.0.1 that records what it received.

A `FakeVendor` answers each request with the next scripted `Reply` (FIFO), else with its
vendor's default responder. A Reply can set status, headers, a JSON or raw body, SSE
frames sent one at a time, delays before headers and between frames, a stall, and a cut
of the connection after N body bytes. Every request is recorded (method, path, query,
headers, body, arrival time); a client that leaves, before the reply's headers or
mid-stream, is counted in `disconnects` and the moment it was seen in `disconnect_times`
(`time.monotonic()`), so a test can assert how soon an upstream call was cancelled.

`ServerThread` runs any ASGI app under uvicorn on a real socket (port 0) in its own thread
and event loop, so stream, disconnect and timeout tests see real TCP behaviour.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import uvicorn

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MANIFEST: dict[str, Any] = msgspec.json.decode((FIXTURES / "manifest.json").read_bytes())


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse_frames(raw: bytes) -> list[bytes]:
    """Split an .sse fixture into its frames (each ending in a blank line), byte-exact."""
    separator = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    parts = raw.split(separator)
    frames = [part + separator for part in parts[:-1]]
    if parts[-1].strip():
        frames.append(parts[-1])
    return frames


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: list[bytes] | None = None
    delay: float = 0.0
    """Seconds before the status line is sent."""
    event_delay: float = 0.0
    """Seconds between SSE frames."""
    stall_after: int | None = None
    """After this many frames, stop sending (but keep the connection open) for `stall`."""
    stall: float = 0.0
    cut_after: int | None = None
    """Close the connection abruptly after this many body bytes."""
    hold: threading.Event | None = None
    """Wait until a test sets this (or the client leaves) before the status line."""

    @classmethod
    def fixture(cls, name: str, **overrides: Any) -> Reply:
        """A reply built from a vendor fixture and its manifest entry (status, headers)."""
        meta = MANIFEST.get(name, {})
        raw = fixture_bytes(name)
        reply = cls(status=meta.get("status", 200), headers=dict(meta.get("headers", {})))
        if name.endswith(".sse"):
            reply.events = sse_frames(raw)
        else:
            reply.body = raw
        for key, value in overrides.items():
            setattr(reply, key, value)
        return reply

    @classmethod
    def json(cls, payload: Any, status: int = 200, **overrides: Any) -> Reply:
        reply = cls(
            status=status, headers={"Content-Type": "application/json"}, body=msgspec.json.encode(payload)
        )
        for key, value in overrides.items():
            setattr(reply, key, value)
        return reply


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0
    """`time.monotonic()` when the request had been read."""

    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None


class CutConnection(Exception):
    """Raised inside the ASGI app to make the server drop the connection mid-body."""


class ClientLeft(OSError):
    """The client closed its connection before the reply was complete."""

    def __init__(self, at: float) -> None:
        super().__init__("client disconnected")
        self.at = at


Responder = Callable[[Received], Reply]


class FakeVendor:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self.disconnects = 0
        self.disconnect_times: list[float] = []
        self.completed = 0
        self.in_flight = 0
        self._lock = threading.Lock()

    def enqueue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def clear(self) -> None:
        self.script.clear()
        self.received.clear()
        self.disconnects = 0
        self.disconnect_times.clear()
        self.completed = 0

    @property
    def last(self) -> Received:
        return self.received[-1]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        request = Received(
            scope["method"], scope["path"], scope["query_string"].decode(), headers, body, time.monotonic()
        )
        with self._lock:
            self.received.append(request)
            reply = self.script.popleft() if self.script else self.responder(request)
            self.in_flight += 1
        try:
            await self._send(reply, receive, send)
            self.completed += 1
        except OSError as error:
            self.disconnect_times.append(error.at if isinstance(error, ClientLeft) else time.monotonic())
            self.disconnects += 1
        finally:
            self.in_flight -= 1

    async def _send(self, reply: Reply, receive: Any, send: Any) -> None:
        left: list[float] = []
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    left.append(time.monotonic())
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await self._reply(reply, send, disconnected, left)
        finally:
            watcher.cancel()

    async def _reply(self, reply: Reply, send: Any, disconnected: asyncio.Event, left: list[float]) -> None:
        while reply.hold is not None and not reply.hold.is_set() and not disconnected.is_set():
            await asyncio.sleep(0.01)
        if reply.delay:
            await _sleep_unless(disconnected, reply.delay)
            if disconnected.is_set():
                raise ClientLeft(left[0])
        header_list = [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        if reply.events is None and reply.cut_after is None:
            header_list.append((b"content-length", str(len(reply.body)).encode()))
            await send({"type": "http.response.start", "status": reply.status, "headers": header_list})
            await send({"type": "http.response.body", "body": reply.body, "more_body": False})
            return
        await send({"type": "http.response.start", "status": reply.status, "headers": header_list})
        chunks: list[bytes] = reply.events if reply.events is not None else [reply.body]
        sent = 0
        for position, chunk in enumerate(chunks):
            if position and reply.event_delay:
                await _sleep_unless(disconnected, reply.event_delay)
            if reply.stall_after is not None and position == reply.stall_after:
                await _sleep_unless(disconnected, reply.stall)
            if disconnected.is_set():
                raise ClientLeft(left[0])
            if reply.cut_after is not None and sent + len(chunk) > reply.cut_after:
                piece = chunk[: reply.cut_after - sent]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                raise CutConnection
            last = position == len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
            sent += len(chunk)
        if not chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1:<free port> in a background thread."""

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["auto", "on", "off"] = "on",
        http: Any = "h11",
        limit_concurrency: int | None = None,
    ) -> None:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
        # listening socket says TCP; without it every second write waits ~40 ms for an ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            lifespan=lifespan,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            http=http,
            limit_concurrency=limit_concurrency,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.server.run(sockets=[self.socket])

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
