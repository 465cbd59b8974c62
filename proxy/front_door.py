"""The front door: everything a request passes before its handler, in the order it passes it.

Two ASGI layers, both here so one file reads as the whole way in and out:

- `FrontDoor.wrap`, around the whole Litestar app (outside its routing and exception
  handling), so a request a guard, the limiter or a 404 refuses is observed like any other:
  it opens the request's `Exchange` (proxy/observability/exchange.py), sees the status and
  the first body bytes actually sent, names the answer's request id (`X-Request-Id`), queues
  a refusal's ledger row when the answer is an error no call accounted for
  (proxy/accounting/refusals.py), and hands the exchange to the observatory when the last
  byte has gone (metrics, span, access line). `/metrics` and the probes stop here.
- `Doorman`, the one middleware Litestar runs after routing (it needs the route's handler:
  admin and catalogue routes are not model calls), for every surface alike:
  1. the header checks (proxy/server/guards.py), which also hand over the request's own
     credential values for log redaction;
  2. authentication and limits: every valid proxy key a model call presents
     (`Authorization`, `x-api-key`) is looked up once (proxy/identity/keys.py leaves the
     records in the ASGI scope for the handler's `key` dependency) and admitted by the
     per-key limiter; its slot is given back when the answer has gone, a stream included,
     or the client has left. A request without a valid key passes on and its handler
     answers 401; a GET of the catalogue or of usage is not limited;
  3. the body: read here under its cap (413 before the rest is read), checked (UTF-8, depth,
     duplicate keys), and replayed to the handler.

Handlers get the gateway and the caller's `KeyRecord` by Litestar's dependency injection
(`KEY`, `KEY_OR_API_KEY`, `constant`, registered by proxy/app.py).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from proxy import observability as observe
from proxy.accounting.refusals import RefusalLedger, code_of
from proxy.gateway import Gateway
from proxy.identity.keys import (
    MAX_KEY_LENGTH,
    KeyRecord,
    KeyStore,
    authenticate,
    effective_limits,
    lookup,
    mark_authenticated,
    presented_key,
)
from proxy.identity.request import new_request_id
from proxy.limits.memory import KeyLimiter
from proxy.limits.rules import EXEMPT_OPT, SlotLease
from proxy.observability import exchange
from proxy.observability.endpoint import PATH as METRICS_PATH
from proxy.observability.observatory import UNOBSERVED, Observatory, observed_code
from proxy.server.guards import (
    BODY_METHODS,
    check_headers,
    check_json,
    declared_length,
    is_upload,
    read_body,
    replay,
)
from proxy.server.redaction import REQUEST_SECRETS
from schemas.config import Config

if TYPE_CHECKING:
    from proxy.limits.shared import SharedKeyLimiter

log = logging.getLogger("unigate.observability")
_UNCOUNTED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEY_HEADERS = (b"authorization", b"x-api-key")


def is_model_call(scope: Scope) -> bool:
    """What limits count and the ledger accounts for, refusals included: a request to a
    model-call route (not a GET of the catalogue or of usage, not an admin route)."""
    if scope["type"] != ScopeType.HTTP or scope.get("method") in _UNCOUNTED_METHODS:
        return False
    handler = scope.get("route_handler")
    return not (handler is not None and handler.opt.get(EXEMPT_OPT))


class FrontDoor:
    def __init__(
        self,
        config: Config,
        keys: KeyStore,
        limiter: KeyLimiter | SharedKeyLimiter,
        observatory: Observatory,
        refusals: RefusalLedger,
    ) -> None:
        self.config = config
        self.keys = keys
        self.limiter = limiter
        self.observatory = observatory
        self.refusals = refusals

    # -- outside Litestar: observe the request, name its answer, account a refusal ---------

    def wrap(self, app: ASGIApp) -> ASGIApp:
        observatory = self.observatory

        async def door(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            path: str = scope["path"]
            if path == METRICS_PATH and observatory.metrics_here:
                await observatory.answer_metrics(scope, send)
                return
            if path in UNOBSERVED:
                await app(scope, receive, send)
                return
            await self._through(app, scope, receive, send)

        return door

    async def _through(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        record = self.observatory.open(scope)
        token = exchange.begin(record)

        async def door_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                record.status = status
                refusal_id = self.refusals.refused(scope, record, status) if status >= 400 else None
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name.lower() == b"x-request-id":
                        record.request_id = value.decode("latin-1")
                        break
                else:
                    row = record.row
                    record.request_id = refusal_id or (
                        row.request_id if row is not None else new_request_id()
                    )
                    headers.append((b"x-request-id", record.request_id.encode()))
                    message["headers"] = headers
            elif (
                message["type"] == "http.response.body"
                and record.first_byte is None
                and message.get("more_body")
            ):
                record.first_byte = time.perf_counter()
            await send(message)

        try:
            await app(scope, receive, door_send)
        except BaseException as error:
            record.status = record.status or 500
            record.code = record.code or observed_code(error)
            raise
        finally:
            exchange.end(token)
            try:
                self.observatory.finish(record)
            except Exception:
                # the answer is already sent: a fault in reporting it must not become the
                # request's error (uvicorn would log it as the application's crash)
                log.exception("observing a request failed (%s %s)", record.method, record.surface)

    async def after_exception(self, error: Exception, _: Scope) -> None:
        """Litestar's hook: the exception a handler, guard or limiter raised, before it is
        rendered: the code the answer, its metrics and a refusal's row carry."""
        record = exchange.current()
        if record is not None:
            Observatory.failed(record, error)
            record.refusal_code = code_of(error)

    # -- inside Litestar, after routing: headers, key and limits, body -----------------------

    def middleware(self, app: ASGIApp) -> ASGIApp:
        return Doorman(app, self)

    async def records(self, scope: Scope) -> list[KeyRecord]:
        """Every valid key the request presents (`Authorization`, `x-api-key`): whichever a
        surface authenticates with, its limits apply, and junk in one header evades nothing."""
        presented: set[str] = set()
        for name, value in scope["headers"]:
            if name.lower() in _KEY_HEADERS:
                key = presented_key(value.decode("latin-1"))
                if key is not None and len(key) <= MAX_KEY_LENGTH:
                    presented.add(key)
        records = [await lookup(self.keys, key, scope) for key in sorted(presented)]
        found = [record for record in records if record is not None]
        if found:
            observe.identified(found[0].id)
        return found


class Doorman:
    """The middleware Litestar builds once around each route (`FrontDoor.middleware`)."""

    def __init__(self, app: ASGIApp, door: FrontDoor) -> None:
        self.app = app
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        door = self.door
        secrets = check_headers(scope["headers"], door.config)
        if secrets:
            REQUEST_SECRETS.set(REQUEST_SECRETS.get() + secrets)
        records = await door.records(scope) if is_model_call(scope) else []
        limiter = door.limiter
        if not isinstance(limiter, KeyLimiter):
            await self._shared(limiter, records, scope, receive, send)
            return
        admitted: list[str] = []
        try:
            for record in records:
                mark_authenticated(scope, record)  # the key a refusal's ledger row is for
                limiter.admit(record.id, effective_limits(record, limiter.defaults))
                admitted.append(record.id)
            await self.app(scope, await self._body(scope, receive), send)
        finally:
            for key_id in admitted:
                limiter.release(key_id)

    async def _shared(
        self, limiter: SharedKeyLimiter, records: list[KeyRecord], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """As above, with the leases given back just before the response's last message: a
        client that sends its next call the moment this one ends finds the slot free on any
        replica, as it would with the in-process limiter."""
        leases: list[SlotLease] = []

        async def release() -> None:
            while leases:
                await limiter.release(leases.pop())

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await release()
            await send(message)

        try:
            for record in records:
                mark_authenticated(scope, record)  # the key a refusal's ledger row is for
                lease = await limiter.admit(record.id, effective_limits(record, limiter.defaults))
                if lease is not None:
                    leases.append(lease)
            await self.app(scope, await self._body(scope, receive), send_then_release if leases else send)
        finally:
            await release()

    async def _body(self, scope: Scope, receive: Receive) -> Receive:
        """The body read and checked, replayed to the handler; `receive` itself without one."""
        if scope.get("method") not in BODY_METHODS:
            return receive
        config = self.door.config
        headers = scope["headers"]
        declared = declared_length(headers)
        if is_upload(scope, headers):
            limit = config.media.max_upload_bytes
            body = await read_body(receive, limit, declared, "the upload ([media] max_upload_bytes)")
        else:
            body = await read_body(receive, config.server.max_body_bytes, declared)
            if body:  # every body the gateway reads is parsed as JSON, whatever its Content-Type says
                check_json(body, config.limits.max_json_depth)
        return replay(body, receive)


# -- what handlers are given (Litestar's dependency injection) --------------------------------


async def key_from_authorization(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> KeyRecord:
    return await authenticate(gateway.keys, request.headers.get("authorization"), request.scope)


async def key_from_api_key_or_authorization(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]
) -> KeyRecord:
    """The Anthropic SDK sends `x-api-key` (2.x sends `Authorization: Bearer`)."""
    headers = request.headers
    presented = headers.get("x-api-key") or headers.get("authorization")
    return await authenticate(gateway.keys, presented, request.scope)


KEY = Provide(key_from_authorization)
"""The default `key` dependency, registered on the app: the caller's `KeyRecord`, resolved
before the handler's body runs (a bad key is refused before the body is read or the model
routed), from the front door's lookup when it made one."""
KEY_OR_API_KEY = {"key": Provide(key_from_api_key_or_authorization)}
"""`dependencies=` for a route or router the Anthropic SDK calls."""


def constant(value: object) -> Provide:
    """A long-lived part built once (the gateway, the usage report), handed to every handler."""

    def provide() -> object:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)
