"""The gateway's answers as ASGI messages: a whole body, or a stream of chunks.

Litestar's `Response` and `Stream` build their headers through its mutable header
structures (a lookup, a case-fold and an append per field) and run a streamed body in an
anyio task group beside a disconnect listener. For the answers on the request path
(envelopes, compatible-surface bodies, SSE streams) that was 12-17 µs a whole answer and
71-90 µs a 22-chunk stream in-process (docs/performance.md, "Sixth session").
`Answer` and `EventStream` are those two response classes with their headers encoded once
into ASGI's list of byte pairs, and a stream whose disconnect listener is one plain task:

- A whole answer sends its start and its body; nothing else runs.
- A stream sends its start, then each chunk its iterator yields, then the end of the body.
  A client that leaves (`http.disconnect`) cancels the stream where it waits (the relay's
  `finally` settles its ledger row), and the response ends quietly as Litestar's did.
- `cut_on`: an exception type that ends the response without its final message, so the
  server closes the connection mid-body (the raw-text stream's failure, which plain HTTP can
  only say by cutting the chunked body short).
- `trailers`: fields sent after the body (`http.response.trailers`, proxy/server/protocol.py)
  once the iterator has ended, for a client that sent `TE: trailers`.

A route's header fields are merged under the answer's own, as Litestar merges them. What
else Litestar would add (cookies, a background task, a HEAD request) sends an `Answer` the
ordinary Litestar way instead, so nothing is dropped; an `EventStream` refuses it (no route
of the gateway's streams has any).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from litestar.enums import MediaType
from litestar.response import Response, Stream
from litestar.response.base import ASGIResponse
from litestar.utils.helpers import get_enum_string_value

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]

log = logging.getLogger("unigate.answers")


def raw_headers(media_type: str, headers: Mapping[str, str], length: int | None = None) -> RawHeaders:
    """ASGI's header list: the content type (a `text/` type with its charset, as Litestar
    writes it), the length of a whole body, then the answer's own fields, names lower-cased."""
    content_type = (
        f"{media_type}; charset=utf-8"
        if media_type.startswith("text/") and ";" not in media_type
        else media_type
    )
    raw = [(b"content-type", content_type.encode("latin-1"))]
    if length is not None:
        raw.append((b"content-length", b"%d" % length))
    raw.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())
    return raw


def _plain(response: Response[Any], route: Mapping[str, Any]) -> bool:
    """Nothing but a status, a type, header fields and the body to send: no cookies or
    background task (the response's or its route's), no HEAD request, the default encoding."""
    return not (
        route.get("background")
        or response.background
        or route.get("cookies")
        or response.cookies
        or route.get("encoded_headers")
        or route.get("is_head_response")
        or response.encoding != "utf-8"
    )


def _start(response: Response[Any], route: Mapping[str, Any], length: int | None) -> tuple[int, RawHeaders]:
    """The status and the header list: the response's own type, status and fields over the
    route's, as Litestar merges them."""
    media_type = get_enum_string_value(response.media_type or route.get("media_type") or MediaType.JSON)
    status = response.status_code or route.get("status_code") or 200
    fields = route.get("headers")
    return status, raw_headers(
        media_type, {**fields, **response.headers} if fields else response.headers, length
    )


class _Whole(ASGIResponse):
    __slots__ = ("_raw",)

    def __init__(self, status: int, raw: RawHeaders, body: bytes) -> None:
        self.status_code = status
        self.body = body
        self._raw = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Any = {"type": "http.response.start", "status": self.status_code, "headers": self._raw}
        await send(start)
        body: Any = {"type": "http.response.body", "body": self.body, "more_body": False}
        await send(body)


class Answer(Response[bytes]):
    """`Response` for a body already encoded (bytes): its headers encoded once, no header
    structures, no content negotiation."""

    __slots__ = ()

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **route: Any) -> ASGIResponse:
        body = self.content
        if not isinstance(body, bytes) or not _plain(self, route):
            return super().to_asgi_response(app, request, **route)
        status, raw = _start(self, route, len(body))
        return _Whole(status, raw, body)


class _Streamed(ASGIResponse):
    __slots__ = ("_cut_on", "_iterator", "_raw", "_trailers")

    def __init__(
        self,
        status: int,
        raw: RawHeaders,
        iterator: AsyncIterator[bytes],
        cut_on: type[BaseException] | None,
        trailers: Callable[[], Mapping[str, str]] | None,
    ) -> None:
        self.status_code = status
        self._raw = raw
        self._iterator = iterator
        self._cut_on = cut_on
        self._trailers = trailers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Any = {"type": "http.response.start", "status": self.status_code, "headers": self._raw}
        if self._trailers is not None:
            start["trailers"] = True
        await send(start)
        task = asyncio.current_task()
        assert task is not None
        left = asyncio.Event()
        listener = asyncio.get_running_loop().create_task(_listen(receive, task, left))
        try:
            ended = await self._body(send)
        except asyncio.CancelledError:
            if not left.is_set() or task.uncancel() > 0:
                raise  # a cancellation of the request itself, not the client leaving
            return
        finally:
            listener.cancel()
        if not ended:
            return
        if self._trailers is not None:
            fields = [
                (name.encode("latin-1"), value.encode("latin-1")) for name, value in self._trailers().items()
            ]
            trailers: Any = {"type": "http.response.trailers", "headers": fields, "more_trailers": False}
            await send(trailers)

    async def _body(self, send: Send) -> bool:
        """Send the chunks and the end of the body; False when the stream was cut instead."""
        try:
            async for chunk in self._iterator:
                if chunk:
                    message: Any = {"type": "http.response.body", "body": chunk, "more_body": True}
                    await send(message)
        except Exception as error:
            if self._cut_on is not None and isinstance(error, self._cut_on):
                return False
            raise
        end: Any = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(end)
        return True


async def _listen(receive: Receive, streaming: asyncio.Task[Any], left: asyncio.Event) -> None:
    """Wait for the client to leave; then stop the stream where it waits. A `receive` that
    fails has lost the connection too: the stream stops the same way (an exception left in
    this task would go unseen, and the stream would go on for nobody)."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception as error:
        log.debug("the connection's receive failed (%s); the stream stops", type(error).__name__)
    left.set()
    streaming.cancel()


class EventStream(Stream):
    """`Stream` for chunks of bytes: headers encoded once, a disconnect listener that is one
    task, and optionally `cut_on` and `trailers` (see the module docstring)."""

    __slots__ = ("cut_on", "trailers")

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        media_type: str,
        headers: dict[str, str] | None = None,
        cut_on: type[BaseException] | None = None,
        trailers: Callable[[], Mapping[str, str]] | None = None,
        trailer_names: Iterable[str] = (),
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.cut_on = cut_on
        self.trailers = trailers
        if trailers is not None:
            self.headers["Trailer"] = ", ".join(trailer_names)

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **route: Any) -> ASGIResponse:
        iterator = self.iterator
        if not isinstance(iterator, AsyncIterator) or not _plain(self, route):
            # a route's cookies or background task, a HEAD request: what nothing here sends
            raise TypeError("an EventStream is a body of bytes chunks with header fields, nothing else")
        status, raw = _start(self, route, None)
        return _Streamed(status, raw, cast("AsyncIterator[bytes]", iterator), self.cut_on, self.trailers)
