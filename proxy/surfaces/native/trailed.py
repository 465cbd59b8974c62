"""A raw-text stream with its billing in HTTP trailers, for clients that sent `TE: trailers`.

The Bytez SDKs' raw-text stream carries nothing but text, so its cost cannot ride in an
event; the headers went out before the first byte. A client that accepts trailers gets
`Inference-Meter`, `Inference-Meter-Price`, `Inference-Time` and `Inference-Cost` after
the last chunk, the figures of the call's ledger row (which has them either way).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from litestar.enums import MediaType
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

if TYPE_CHECKING:
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures import Cookie
    from litestar.types import Send, TypeEncodersMap

TRAILER_FIELDS = ("Inference-Meter", "Inference-Meter-Price", "Inference-Time", "Inference-Cost")
"""Announced in the `Trailer` header, as RFC 9110 asks."""


class _TrailedStreamingResponse(ASGIStreamingResponse):
    __slots__ = ("trailers",)

    def __init__(self, *, trailers: Callable[[], dict[str, str]], **options: Any) -> None:
        super().__init__(**options)
        self.trailers = trailers

    async def start_response(self, send: Send) -> None:
        start: Any = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.encode_headers(),
            "trailers": True,
        }
        await send(start)

    async def _stream(self, send: Send) -> None:
        await super()._stream(send)
        fields = [(name.encode(), value.encode()) for name, value in self.trailers().items()]
        trailers: Any = {"type": "http.response.trailers", "headers": fields, "more_trailers": False}
        await send(trailers)


class TrailedStream(Stream):
    """`Stream`, plus trailer fields computed once the body has been sent."""

    __slots__ = ("trailers",)

    def __init__(
        self, content: AsyncIterator[bytes], *, trailers: Callable[[], dict[str, str]], **options: Any
    ) -> None:
        super().__init__(content, **options)
        self.trailers = trailers
        self.headers["Trailer"] = ", ".join(TRAILER_FIELDS)

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
        merged = {**headers, **self.headers} if headers is not None else self.headers
        return _TrailedStreamingResponse(
            trailers=self.trailers,
            background=self.background or background,
            content_length=0,
            cookies=[*self.cookies, *(cookies or ())],
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers=merged,
            is_head_response=is_head_response,
            iterator=self.iterator,
            media_type=self.media_type or media_type or MediaType.TEXT,
            status_code=self.status_code or status_code,
        )
