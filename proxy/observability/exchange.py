"""One request as the gateway sees it: what the front door (proxy/front_door.py) saw on the
wire, plus what the gateway reported into it on the way (its ledger rows, its attempts, a
limiter's refusal, the model a surface read). The observatory counts and logs it; a refusal's
ledger row (proxy/accounting/refusals.py) is written from it.

The exchange lives in a context variable the wrapper sets, so a hook deep in dispatch finds
it without any argument threading; outside a request (unit tests of dispatch, the ledger's
thread) there is none and every hook is a no-op. The exchange is one mutable object, so a
child task that copied the context still writes into the same record.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from adapters.base import EmbeddingCall, UpstreamCall
    from proxy.accounting.ledger import UsageRow
    from proxy.dispatch.call import Lease

T = TypeVar("T")

REFUSED = "refused"
"""The status of a 4xx refusal's ledger row."""
GATEWAY_ERROR = "gateway_error"
"""The status of a ledger row for a 5xx the gateway answered before any call began."""
NOT_CALLS = (REFUSED, GATEWAY_ERROR)
"""Row statuses that are not calls: nothing was sent to a vendor or worker, nothing cost."""


class Sink(Protocol):
    """What an exchange reports into (proxy/observability/observatory.py)."""

    def attempt_started(
        self, exchange: Exchange, lease: Lease, call: UpstreamCall | EmbeddingCall, kind: str
    ) -> Any: ...

    def attempt_ended(
        self, exchange: Exchange, span: Any, result: object, error: BaseException | None
    ) -> None: ...

    def pool_waited(self, pool: str, seconds: float) -> None: ...


@dataclass(slots=True, eq=False)
class Exchange:
    sink: Sink
    started: float
    """`time.perf_counter()` when the request arrived."""
    surface: str
    method: str
    path: str
    client: str
    status: int = 0
    request_id: str | None = None
    key_id: str | None = None
    code: str = ""
    """The stable error code the client got (docs/errors.md), "" for a success."""
    provider_error: bool = False
    """The failure was reported by a vendor or worker (it named the provider)."""
    row: UsageRow | None = None
    """The request's final ledger row, when it reached dispatch."""
    attempts: int = 0
    upstream: float = 0.0
    """Seconds spent waiting on upstream attempts (vendor or worker), failed ones included."""
    first_byte: float | None = None
    """perf_counter of the first body bytes sent, when the answer is a stream."""
    refusal: str | None = None
    """The per-key limit that refused the request (rpm, tpm, concurrency)."""
    finish_reasons: list[str] = field(default_factory=list)
    response_model: str | None = None
    span: Any = None
    started_at: float = 0.0
    """`time.time()` when the request arrived (a refusal row's start)."""
    row_id: str | None = None
    """The request id of the final row a call of this request wrote (any row, a call's)."""
    answer_id: str | None = None
    """The id an error answer named before its refusal row was written."""
    refusal_code: str | None = None
    """The code a refusal row records: the handled exception's, None for a client that left."""
    model: str | None = None
    """The model id the request asked for, once a surface has read it."""


_current: ContextVar[Exchange | None] = ContextVar("unigate_exchange", default=None)


def current() -> Exchange | None:
    return _current.get()


def begin(exchange: Exchange) -> object:
    return _current.set(exchange)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


# -- hooks: one line at each call site ----------------------------------------------------


async def attempt(work: Awaitable[T], lease: Lease, call: UpstreamCall | EmbeddingCall, retry: bool) -> T:
    """Await one upstream attempt (dispatch's loop), timed and traced as a child span.

    A retry is another try at the same target; a first try at a target after an earlier
    attempt failed is a fallback taken."""
    exchange = _current.get()
    if exchange is None:
        return await work
    kind = "retry" if retry else "fallback" if exchange.attempts else "first"
    exchange.attempts += 1
    span = exchange.sink.attempt_started(exchange, lease, call, kind)
    began = time.perf_counter()
    try:
        result = await work
    except BaseException as error:
        exchange.upstream += time.perf_counter() - began
        exchange.sink.attempt_ended(exchange, span, None, error)
        raise
    exchange.upstream += time.perf_counter() - began
    exchange.sink.attempt_ended(exchange, span, result, None)
    return result


def refused(kind: str) -> None:
    """A per-key limit (rpm, tpm, concurrency) refused this request."""
    exchange = _current.get()
    if exchange is not None:
        exchange.refusal = kind


def identified(key_id: str) -> None:
    """The request presented this valid proxy key (known before any handler runs)."""
    exchange = _current.get()
    if exchange is not None and exchange.key_id is None:
        exchange.key_id = key_id


def noted_model(model_id: str) -> None:
    """The model id the request asked for, once a surface has read it (a refusal's row)."""
    exchange = _current.get()
    if exchange is not None:
        exchange.model = model_id


def pool_waited(pool: str, seconds: float) -> None:
    """A request waited this long for a free member slot in a worker pool."""
    exchange = _current.get()
    if exchange is not None:
        exchange.sink.pool_waited(pool, seconds)
