"""A deliberately cheap fake OpenAI for benchmarks: a bare asyncio protocol that answers
canned bytes (the repository's fixtures), so the baseline measures the client, not the fake.

    python -m bench.fake_upstream PORT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvloop

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "openai"
CHAT = (FIXTURES / "chat.json").read_bytes()
STREAM = (FIXTURES / "chat-stream.sse").read_bytes()

JSON_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
    b"content-length: " + str(len(CHAT)).encode() + b"\r\n\r\n" + CHAT
)
STREAM_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"content-length: " + str(len(STREAM)).encode() + b"\r\n\r\n" + STREAM
)


class FakeOpenAI(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(
                    head[marker + 15 : head.find(b"\r\n", marker) if head.find(b"\r\n", marker) > 0 else None]
                )
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            streamed = b'"stream":true' in body or b'"stream": true' in body
            assert self.transport is not None
            self.transport.write(STREAM_RESPONSE if streamed else JSON_RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeOpenAI, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
