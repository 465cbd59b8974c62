"""The production protocol on a real socket: a stream's chunks sent in one loop iteration
leave in one write, in order, and a chunk sent later leaves on its own (nothing waits for
more); the body the client reads is exactly what the app sent."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from proxy.server.protocol import ReceiptDeadlineProtocol
from tests.fakes.server import ServerThread

WRITES: list[bytes] = []


class _Counted:
    """The connection's transport, its writes recorded."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountingProtocol(ReceiptDeadlineProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Counted(transport))  # type: ignore[arg-type]


async def burst_then_one(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for number in range(5):  # one iteration: no await suspends between these
        await send({"type": "http.response.body", "body": b"event %d\n" % number, "more_body": True})
    await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"later\n", "more_body": True})
    await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _dechunk(raw: bytes) -> bytes:
    body, rest = b"", raw
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, rest = body + rest[:size], rest[size + 2 :]


def test_a_burst_of_chunks_leaves_in_one_write_and_a_later_chunk_alone() -> None:
    ReceiptDeadlineProtocol.deadline = 15.0
    server = ServerThread(burst_then_one, lifespan="off", http=CountingProtocol).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            raw = b""
            while not raw.endswith(b"0\r\n\r\n"):
                data = client.recv(65536)
                assert data, "the server closed before the last chunk"
                raw += data
    finally:
        server.stop()
    head, _, chunked = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert _dechunk(chunked) == b"".join(b"event %d\n" % n for n in range(5)) + b"later\n"
    bodies = [write for write in WRITES if not write.startswith(b"HTTP/1.1")]
    burst = b"".join(b"8\r\nevent %d\n\r\n" % n for n in range(5))
    assert bodies == [burst, b"6\r\nlater\n\r\n", b"0\r\n\r\n"]
