"""A deliberately cheap fake OpenAI for benchmarks: a bare asyncio protocol that answers
canned bytes (the repository's fixtures), so the baseline measures the client, not the fake.

    python -m bench.fake_upstream PORT [CHUNKS]

The streamed answer is the fixture's stream with its content chunks repeated until it
holds CHUNKS `data:` events before `[DONE]` (default 20, the figure issue 17 measures).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import uvloop

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "openai"
CHAT = (FIXTURES / "chat.json").read_bytes()


def stream_of(chunks: int) -> bytes:
    """The fixture's events: a role chunk, content chunks, a finish chunk, a usage chunk."""
    events = [event for event in (FIXTURES / "chat-stream.sse").read_bytes().split(b"\n\n") if event.strip()]
    head, content, tail, done = events[:1], events[1:-3], events[-3:-1], events[-1]
    body = list(itertools.islice(itertools.cycle(content), max(1, chunks - len(head) - len(tail))))
    return b"\n\n".join([*head, *body, *tail, done]) + b"\n\n"


def responses(chunks: int) -> tuple[bytes, bytes]:
    stream = stream_of(chunks)
    json_response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
        b"content-length: " + str(len(CHAT)).encode() + b"\r\n\r\n" + CHAT
    )
    stream_response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"content-length: " + str(len(stream)).encode() + b"\r\n\r\n" + stream
    )
    return json_response, stream_response


JSON_RESPONSE, STREAM_RESPONSE = responses(20)


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
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end > 0 else None])
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
    if len(sys.argv) > 2:
        JSON_RESPONSE, STREAM_RESPONSE = responses(int(sys.argv[2]))
    uvloop.run(serve(int(sys.argv[1])))
