"""proxy/server/answers.py: the same ASGI messages as Litestar's `Response` and `Stream`,
and a stream that ends quietly when its client leaves and loudly when it is cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.datastructures import Cookie
from litestar.response import Response, Stream

from proxy.server.answers import Answer, EventStream

HEADERS = {"X-Request-Id": "req_1", "Inference-Cost": "0.000125"}


class Wire:
    """An ASGI server's side of one response: the messages sent, a client that can leave."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.leave = asyncio.Event()
        self.done = asyncio.Event()

    async def send(self, message: Any) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.done.set()

    async def receive(self) -> Any:
        # as uvicorn: a disconnect once the client left, or once the response is complete
        leave = asyncio.ensure_future(self.leave.wait())
        done = asyncio.ensure_future(self.done.wait())
        await asyncio.wait({leave, done}, return_when=asyncio.FIRST_COMPLETED)
        leave.cancel()
        done.cancel()
        return {"type": "http.disconnect"}


def _asgi(response: Response[Any], route_headers: dict[str, str] | None = None) -> Any:
    return response.to_asgi_response(
        None,
        None,  # type: ignore[arg-type]
        headers=route_headers or {},
        media_type="",  # what Litestar passes for these routes (their return type is a Response)
        status_code=200,
        cookies=[],
    )


async def _messages(
    response: Response[Any], route_headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    wire = Wire()
    await _asgi(response, route_headers)({}, wire.receive, wire.send)
    return wire.sent


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _sorted_headers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for message in messages:
        if "headers" in message:
            message["headers"] = sorted(message["headers"])
    return messages


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        ("application/json", b'{"ok":true}'),
        ("text/plain", b"hello"),
        ("audio/mpeg", b"\xff\xfb"),
        ("application/json", b""),
        (None, b"[]"),
    ],
)
async def test_an_answer_sends_what_litestar_sends(media_type: str | None, body: bytes) -> None:
    typed = {"media_type": media_type} if media_type is not None else {}  # None: Litestar's default
    ours = await _messages(Answer(body, headers=dict(HEADERS), **typed), {"X-Route": "r"})
    theirs = await _messages(Response(body, headers=dict(HEADERS), **typed), {"X-Route": "r"})
    assert _sorted_headers(ours) == _sorted_headers(theirs)


async def test_an_answer_with_a_cookie_is_sent_the_litestar_way() -> None:
    answer = Answer(b"{}", media_type="application/json", cookies=[Cookie(key="session", value="s")])
    (start, _) = await _messages(answer)
    assert any(name == b"set-cookie" for name, _ in start["headers"])


async def test_a_stream_sends_what_litestar_sends() -> None:
    parts = [b"event: start\ndata: {}\n\n", b"", b"event: done\ndata: {}\n\n"]
    ours = await _messages(EventStream(_chunks(parts), media_type="text/event-stream", headers=dict(HEADERS)))
    theirs = await _messages(Stream(_chunks(parts), media_type="text/event-stream", headers=dict(HEADERS)))
    # Litestar sends the empty chunk as a message of its own; nothing reaches the wire for it
    theirs = [message for message in theirs if message.get("body", b"x") or not message.get("more_body")]
    assert _sorted_headers(ours) == _sorted_headers(theirs)
    assert ours[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_client_that_leaves_stops_the_stream_where_it_waits() -> None:
    waiting = asyncio.Event()
    closed: list[str] = []

    async def upstream() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            waiting.set()
            await asyncio.Event().wait()  # a vendor that has gone quiet
            yield b"never"
        finally:
            closed.append("settled")

    wire = Wire()
    response = _asgi(EventStream(upstream(), media_type="text/event-stream"))
    serving = asyncio.ensure_future(response({}, wire.receive, wire.send))
    await waiting.wait()
    wire.leave.set()
    await asyncio.wait_for(serving, 2)  # returns, not cancelled
    assert closed == ["settled"]
    assert [message.get("body") for message in wire.sent[1:]] == [b"data: 1\n\n"]
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_receive_that_fails_stops_the_stream_as_a_client_leaving() -> None:
    """The server's `receive` raising (a connection gone wrong) stops the stream where it
    waits, as a client leaving does; nothing is left unretrieved in the listener."""
    waiting = asyncio.Event()
    closed: list[str] = []
    broken = asyncio.Event()

    async def upstream() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            waiting.set()
            await asyncio.Event().wait()
            yield b"never"
        finally:
            closed.append("settled")

    async def receive() -> Any:
        await broken.wait()
        raise RuntimeError("the connection's receive failed")

    wire = Wire()
    unhandled: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    try:
        response = _asgi(EventStream(upstream(), media_type="text/event-stream"))
        serving = asyncio.ensure_future(response({}, receive, wire.send))
        await waiting.wait()
        broken.set()
        await asyncio.wait_for(serving, 2)  # returns, not cancelled, not raising
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert closed == ["settled"]
    assert [message.get("body") for message in wire.sent[1:]] == [b"data: 1\n\n"]
    assert unhandled == []


async def test_a_cancelled_request_is_not_taken_for_a_client_leaving() -> None:
    waiting = asyncio.Event()

    async def upstream() -> AsyncIterator[bytes]:
        waiting.set()
        await asyncio.Event().wait()
        yield b""

    wire = Wire()
    serving = asyncio.ensure_future(
        _asgi(EventStream(upstream(), media_type="text/event-stream"))({}, wire.receive, wire.send)
    )
    await waiting.wait()
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving


class Cut(Exception):
    pass


async def test_a_cut_stream_ends_without_its_final_message_and_other_failures_raise() -> None:
    async def failing(error: Exception) -> AsyncIterator[bytes]:
        yield b"partial"
        raise error

    cut = await _messages(EventStream(failing(Cut()), media_type="text/plain", cut_on=Cut))
    assert [message["type"] for message in cut] == ["http.response.start", "http.response.body"]
    assert cut[-1]["more_body"] is True
    with pytest.raises(ValueError, match="broken"):
        await _messages(EventStream(failing(ValueError("broken")), media_type="text/plain", cut_on=Cut))


async def test_trailers_follow_the_body_and_are_announced() -> None:
    figures = {"Inference-Cost": "0.5"}
    stream = EventStream(
        _chunks([b"text"]),
        media_type="text/plain",
        trailers=lambda: figures,
        trailer_names=("Inference-Cost",),
    )
    start, chunk, end, trailers = await _messages(stream)
    assert start["trailers"] is True
    assert (b"trailer", b"Inference-Cost") in start["headers"]
    assert (b"content-type", b"text/plain; charset=utf-8") in start["headers"]
    assert chunk["body"] == b"text"
    assert end == {"type": "http.response.body", "body": b"", "more_body": False}
    assert trailers == {
        "type": "http.response.trailers",
        "headers": [(b"Inference-Cost", b"0.5")],
        "more_trailers": False,
    }
