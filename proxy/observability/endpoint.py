"""`GET /metrics`: on the gateway's own port (an ASGI answer before any handler, limiter or
guard), or, with `[metrics] port`, on a port of its own served by the `unigate serve`
supervisor, which in multiprocess mode reads every worker's values.

With `[metrics] token` a scrape must send `Authorization: Bearer <token>`; the token is
compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from litestar.types import Scope, Send

from proxy.observability.metrics import CONTENT_TYPE

log = logging.getLogger("unigate.metrics")
PATH = "/metrics"


def authorized(token: str | None, authorization: str | None) -> bool:
    if token is None:
        return True
    if not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name.lower() == wanted:
            return value.decode("latin-1")
    return None


async def answer(scope: Scope, send: Send, token: str | None, exposition: Callable[[], bytes]) -> None:
    """The scrape's answer on the gateway's port."""
    if scope.get("method") not in ("GET", "HEAD"):
        await _send(
            send, 405, b'{"error": "method not allowed", "code": "method_not_allowed"}', "application/json"
        )
        return
    if not authorized(token, _header(scope["headers"], b"authorization")):
        await _send(
            send, 401, b'{"error": "invalid metrics token", "code": "authentication"}', "application/json"
        )
        return
    await _send(send, 200, exposition(), CONTENT_TYPE)


async def _send(send: Send, status: int, body: bytes, media_type: str) -> None:
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def serve_separately(host: str, port: int, token: str | None, exposition: Callable[[], bytes]) -> WSGIServer:
    """`/metrics` on its own port, in a daemon thread of the calling process."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not authorized(token, environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")]
            )
            return [b"invalid metrics token\n"]
        body = exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="unigate-metrics", daemon=True).start()
    log.info("metrics on http://%s:%s%s", host, server.server_port, PATH)
    return server
