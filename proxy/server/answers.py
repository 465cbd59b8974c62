"""The gateway's answers as ASGI messages: a whole body, or a stream of chunks.

Litestar's `Response` and `Stream` build their headers through its mutable header
structures (a lookup, a case-fold and an append per field) and run a streamed body in an
anyio task group beside a disconnect listener. For the answers on the request path
(envelopes, compatible-surface bodies, SSE streams) that was ~10 % of a request's CPU.
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

Whatever Litestar would add to a response (route-level headers or cookies, a background
task, a HEAD request) sends it the ordinary Litestar way instead, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from litestar.response import Response, Stream
from litestar.response.base import ASGIResponse

if TYPE_CHECKING:
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures import Cookie
    from litestar.enums import MediaType
    from litestar.types import Receive, Scope, Send, TypeEncodersMap

RawHeaders = list[tuple[bytes, bytes]]


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


def _plain(
    response: Response[Any],
    background: object,
    cookies: Iterable[Cookie] | None,
    encoded_headers: Iterable[tuple[bytes, bytes]] | None,
    is_head_response: bool,
) -> bool:
    """Nothing but a status, a type, header fields and the body to send."""
    return not (
        background
        or response.background
        or cookies
        or response.cookies
        or encoded_headers
        or is_head_response
        or response.encoding != "utf-8"
    )


def _fields(route: Mapping[str, str] | None, own: Mapping[str, str]) -> Mapping[str, str]:
    """The route's header fields under the answer's own, as Litestar merges them."""
    return {**route, **own} if route else own


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

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        body = self.content
        if not isinstance(body, bytes) or not _plain(
            self, background, cookies, encoded_headers, is_head_response
        ):
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        kind = str(self.media_type or media_type or "application/json")
        status = self.status_code or status_code or 200
        return _Whole(status, raw_headers(kind, _fields(headers, self.headers), len(body)), body)


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
    """Wait for the client to leave; then stop the stream where it waits."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            left.set()
            streaming.cancel()
            return


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

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        iterator = self.iterator
        if not isinstance(iterator, AsyncIterator) or not _plain(
            self, background, cookies, encoded_headers, is_head_response
        ):
            # a route's cookies or background task, a HEAD request: what nothing here sends
            raise TypeError("an EventStream is a body of bytes chunks with header fields, nothing else")
        kind = str(self.media_type or media_type)
        status = self.status_code or status_code or 200
        raw = raw_headers(kind, _fields(headers, self.headers))
        return _Streamed(status, raw, cast("AsyncIterator[bytes]", iterator), self.cut_on, self.trailers)
