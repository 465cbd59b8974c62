"""The ledger row of a request the gateway refused before any call of it began.

Dispatch writes a row for every call it starts (proxy/accounting/accounts.py), but a
request refused before that — `429 rate_limited` by the limit middleware, `402
budget_exceeded` or `409 idempotency_conflict` by the start row's own transaction, a `400`
body, a `404` model — would leave none, and an operator could not see what a key was
refused. So every authenticated model call leaves exactly one row: the call's own, or the
refusal's, written here with cost 0, status `refused` (a 4xx) or `gateway_error` (a 5xx
the gateway answered itself) and the answer's code as `error_code`. A request that
presented no valid proxy key leaves none (the metrics count those).

How it knows, per request (a context variable holding a `Mark`, set by `wrap`, the ASGI
wrapper around the app):
- whether a call wrote its row: the ledger's observer sees each final row in the context of
  the request it belongs to, and a call that began a row always writes its final row before
  its answer goes out;
- the answer's code: Litestar's `after_exception` hook, which sees every exception a
  handler, guard or middleware raised before it is rendered;
- the key: the ASGI scope (proxy/identity/auth.py `authenticated`);
- the model: what a surface noted (`note_model`), else the native path's model id, else null
  (a compatible surface's 429 comes before its body is read).

The row is queued when the answer's status line goes out, under the id the answer names
(`answer_id`, a fresh request id, never the one an `Idempotency-Key` derives: that row
belongs to the run the conflict is about).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from proxy.accounting.ledger import Ledger, UsageRow
from proxy.identity.auth import authenticated
from proxy.identity.request_ids import new_request_id
from schemas.errors import ClientDisconnected, Code, GatewayError, code_for_status

REFUSED = "refused"
"""The status of a 4xx refusal's row."""
GATEWAY_ERROR = "gateway_error"
"""The status of a row for a 5xx the gateway answered before any call began."""
NOT_CALLS = (REFUSED, GATEWAY_ERROR)
"""Row statuses that are not calls: nothing was sent to a vendor or worker, nothing cost."""


@dataclass(slots=True)
class Mark:
    started_at: float
    row_id: str | None = None
    """The request id of the final row a call of this request wrote."""
    answer_id: str | None = None
    """The id an error answer named before the refusal row was written."""
    code: str | None = None
    model: str | None = None


_MARK: ContextVar[Mark | None] = ContextVar("unigate_refusal_mark", default=None)


def answer_id() -> str:
    """The request id an error answer names (its `id`, its `X-Request-Id`): the row its call
    wrote, else the refusal row's, decided once."""
    mark = _MARK.get()
    if mark is None:
        return new_request_id()
    if mark.row_id is not None:
        return mark.row_id
    if mark.answer_id is None:
        mark.answer_id = new_request_id()
    return mark.answer_id


def note_model(model_id: str) -> None:
    """The model id the request asked for, once a surface has read it."""
    mark = _MARK.get()
    if mark is not None:
        mark.model = model_id


def requested_model(scope: Scope) -> str | None:
    """The model id the request asked for, as far as it is known: noted, or in the path."""
    mark = _MARK.get()
    if mark is not None and mark.model is not None:
        return mark.model
    path_model = (scope.get("path_params") or {}).get("model_id")
    return path_model.lstrip("/") or None if isinstance(path_model, str) else None


def code_of(error: BaseException) -> str | None:
    """The stable code an exception is answered with; None for a client that left."""
    if isinstance(error, GatewayError):
        return str(error.code)
    if isinstance(error, HTTPException):
        status = error.status_code
        return code_for_status(status).value if status < 500 else Code.INTERNAL.value
    if isinstance(error, ClientDisconnected):
        return None
    return Code.INTERNAL.value


class RefusalLedger:
    """Writes the refusal rows; `counts(scope)` says which requests are model calls."""

    def __init__(self, ledger: Ledger, counts: Callable[[Scope], bool]) -> None:
        self._ledger = ledger
        self._counts = counts
        ledger.observers.append(self._observed)

    @staticmethod
    def _observed(row: UsageRow) -> None:
        mark = _MARK.get()
        if mark is not None and mark.row_id is None:
            mark.row_id = row.request_id

    async def after_exception(self, error: Exception, _: Scope) -> None:
        mark = _MARK.get()
        if mark is not None:
            mark.code = code_of(error)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def accounted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            mark = Mark(time.time())
            token = _MARK.set(mark)

            async def send_accounted(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] >= 400:
                    row_id = self._refused(scope, mark, message["status"])
                    if row_id is not None:
                        _name_request(message, row_id)
                await send(message)

            try:
                await app(scope, receive, send_accounted)
            finally:
                _MARK.reset(token)

        return accounted

    def _refused(self, scope: Scope, mark: Mark, status: int) -> str | None:
        """Queue the refusal's row if this answer needs one; its request id, else None."""
        code = mark.code
        if mark.row_id is not None or code is None or code == Code.AUTHENTICATION:
            return None  # a call wrote its row; a client that left; no valid proxy key
        if not self._counts(scope):
            return None
        key = authenticated(scope)
        if key is None:
            return None
        request_id = mark.answer_id or new_request_id()
        self._ledger.record(
            UsageRow(
                request_id=request_id,
                key_id=key.id,
                model=requested_model(scope),
                provider=None,
                status=REFUSED if status < 500 else GATEWAY_ERROR,
                attempts=0,
                input_tokens=0,
                output_tokens=0,
                cached_input_tokens=0,
                reasoning_tokens=0,
                inference_time=0.0,
                meter=None,
                cost=0.0,
                error_code=code,
                started_at=mark.started_at,
                finished_at=time.time(),
            )
        )
        return request_id


def _name_request(message: HTTPResponseStartEvent, request_id: str) -> None:
    """`X-Request-Id: <the refusal row's id>` unless the answer already names one."""
    headers = list(message.get("headers", ()))
    if not any(name.lower() == b"x-request-id" for name, _ in headers):
        headers.append((b"x-request-id", request_id.encode()))
        message["headers"] = headers
