"""The production protocol on a real socket: what a response sends in one loop iteration
leaves in one write, in order (the head with the body or the first chunks), a chunk sent
later leaves on its own, and a head whose body is not ready leaves at the end of its
iteration (nothing waits for more); the bytes the client reads are exactly what the app
sent, also when the connection closes after the answer or the request was a HEAD."""

from __future__ import annotations

import asyncio
import socket
import threading
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
    WRITES.clear()
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
    burst = b"".join(b"8\r\nevent %d\n\r\n" % n for n in range(5))
    assert [head + b"\r\n\r\n" + burst, b"6\r\nlater\n\r\n", b"0\r\n\r\n"] == WRITES


BODY = b'{"answer": "hello"}'
BODY_READY = threading.Event()


async def whole(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A JSON answer as `Answer` sends it (start then body in one go); on `/late` the body
    waits until the test has seen the head."""
    if scope["type"] != "http":
        return
    length = str(len(BODY)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]})
    if scope["path"] == "/late":
        while not BODY_READY.is_set():
            await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": BODY if scope["method"] != "HEAD" else b""})


def _exchange(port: int, request: bytes, until_closed: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(request)
        raw = b""
        while until_closed or not raw.endswith(BODY):
            data = client.recv(65536)
            if not data:
                break
            raw += data
        return raw


def test_a_whole_answer_is_one_write_head_and_body() -> None:
    ReceiptDeadlineProtocol.deadline = 15.0
    WRITES.clear()
    server = ServerThread(whole, lifespan="off", http=CountingProtocol).start()
    try:
        kept = _exchange(server.port, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        writes_kept = list(WRITES)
        WRITES.clear()
        closed = _exchange(
            server.port, b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", until_closed=True
        )
        writes_closed = list(WRITES)
        WRITES.clear()
        head_only = _exchange(
            server.port, b"HEAD / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", True
        )
        writes_head = list(WRITES)
    finally:
        server.stop()
    assert kept.startswith(b"HTTP/1.1 200 OK\r\n") and kept.endswith(b"\r\n\r\n" + BODY)
    assert writes_kept == [kept]  # one system call: the head waited for the body
    assert closed.endswith(b"\r\n\r\n" + BODY) and b"connection: close" in closed.lower()
    assert writes_closed == [closed]  # written before the connection closed
    assert head_only.startswith(b"HTTP/1.1 200 OK\r\n") and head_only.endswith(b"\r\n\r\n")
    assert b"content-length: %d" % len(BODY) in head_only.lower()
    assert b"".join(writes_head) == head_only


def test_a_head_whose_body_is_not_ready_leaves_at_the_end_of_its_iteration() -> None:
    ReceiptDeadlineProtocol.deadline = 15.0
    WRITES.clear()
    BODY_READY.clear()
    server = ServerThread(whole, lifespan="off", http=CountingProtocol).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.settimeout(5)
            client.sendall(b"GET /late HTTP/1.1\r\nHost: test\r\n\r\n")
            raw = b""
            while not raw.endswith(b"\r\n\r\n"):
                data = client.recv(65536)
                assert data, "the server closed before the head"
                raw += data  # the head arrives while the app still holds its body
            BODY_READY.set()
            while not raw.endswith(BODY):
                raw += client.recv(65536)
    finally:
        server.stop()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n" + BODY)
    assert [raw[: -len(BODY)], BODY] == WRITES
