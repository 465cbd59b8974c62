"""The ledger row of a request the gateway refused before any call of it began.

Dispatch writes a row for every call it starts (proxy/accounting/accounts.py), but a
request refused before that — `429 rate_limited` by the limit middleware, `402
budget_exceeded` or `409 idempotency_conflict` by the start row's own transaction, a `400`
body, a `404` model — would leave none, and an operator could not see what a key was
refused. So every authenticated model call leaves exactly one row: the call's own, or the
refusal's, written here with cost 0, status `refused` (a 4xx) or `gateway_error` (a 5xx
the gateway answered itself) and the answer's code as `error_code`. A request that
presented no valid proxy key leaves none (the metrics count those).

How it knows, per request (the request's `Exchange`, proxy/observability/exchange.py, which
the front door opens, proxy/front_door.py):
- whether a call wrote its row: the ledger's observer sees each final row in the context of
  the request it belongs to (`row_id`), and a call that began a row always writes its final
  row before its answer goes out;
- the answer's code: Litestar's `after_exception` hook, which sees every exception a
  handler, guard or middleware raised before it is rendered (`refusal_code`);
- the key: the ASGI scope (proxy/identity/keys.py `authenticated`);
- the model: what a surface noted (`observe.noted_model`), else the native path's model id,
  else null (a compatible surface's 429 comes before its body is read).

The front door calls `refused` when the answer's status line goes out; the row is queued
under the id the answer names (`answer_id`, a fresh request id, never the one an
`Idempotency-Key` derives: that row belongs to the run the conflict is about).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar.exceptions import HTTPException
from litestar.types import Scope

from proxy.accounting.ledger import Ledger, UsageRow
from proxy.identity.keys import authenticated
from proxy.identity.request import new_request_id
from proxy.observability import exchange
from proxy.observability.exchange import GATEWAY_ERROR, NOT_CALLS, REFUSED, Exchange
from schemas.errors import ClientDisconnected, Code, GatewayError, code_for_status

__all__ = [
    "GATEWAY_ERROR",
    "NOT_CALLS",
    "REFUSED",
    "RefusalLedger",
    "answer_id",
    "code_of",
    "requested_model",
]


def answer_id() -> str:
    """The request id an error answer names (its `id`, its `X-Request-Id`): the row its call
    wrote, else the refusal row's, decided once."""
    record = exchange.current()
    if record is None:
        return new_request_id()
    if record.row_id is not None:
        return record.row_id
    if record.answer_id is None:
        record.answer_id = new_request_id()
    return record.answer_id


def requested_model(scope: Scope) -> str | None:
    """The model id the request asked for, as far as it is known: noted, or in the path."""
    record = exchange.current()
    if record is not None and record.model is not None:
        return record.model
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

    def refused(self, scope: Scope, record: Exchange, status: int) -> str | None:
        """Queue the refusal's row if this answer (status >= 400) needs one; its request id,
        else None."""
        code = record.refusal_code
        if record.row_id is not None or code is None or code == Code.AUTHENTICATION:
            return None  # a call wrote its row; a client that left; no valid proxy key
        if not self._counts(scope):
            return None
        key = authenticated(scope)
        if key is None:
            return None
        request_id = record.answer_id or new_request_id()
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
                started_at=record.started_at,
                finished_at=time.time(),
            )
        )
        return request_id
