"""What one call through dispatch carries and hands back: the context a surface opens
(`open_call`), the lease an attempt runs on, the completed answer; and what follows from the
context alone: watching the client for a disconnect, and the call's ledger row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from litestar.datastructures import Headers
from litestar.types import Receive
from msgspec import UNSET

from adapters.base import Adapter
from proxy.accounting.ledger import UsageRow
from proxy.identity import request as requests
from proxy.identity.keys import KeyRecord
from proxy.identity.request import provider_keys
from schemas.chat import ChatResponse, Usage
from schemas.embeddings import EmbeddingResponse
from schemas.errors import ClientDisconnected, Code, GatewayError
from schemas.events import Billing

T = TypeVar("T")
Disconnected = Callable[[], Awaitable[object]]
"""Resolves when the client has gone (the surface's ASGI receive, after the body)."""


@dataclass(slots=True)
class CallContext:
    request_id: str
    key_id: str | None
    model_id: str
    provider_keys: Mapping[str, str]
    """`Provider-Key` under "" and each `Provider-Key-<Vendor>` under the vendor's name."""
    started_at: float
    disconnected: Disconnected | None = None
    idempotent: bool = False
    """The id came from an `Idempotency-Key` (proxy/identity/request.py)."""
    budgeted: bool = False
    """The key had a spend budget when the request came in (proxy/accounting/budgets.py)."""
    reserved: bool = False
    """The start row holds a budget reservation, which the final row settles."""


def client_gone(receive: Receive) -> Disconnected:
    """Waits for the client to leave; only valid once the body has been read."""

    async def wait() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    return wait


def open_call(key: KeyRecord, model_id: str, headers: Headers, receive: Receive) -> CallContext:
    """A surface's call, once its body has been read (the disconnect watch reads the request's
    ASGI channel): its request id (an `Idempotency-Key`'s, else a fresh one), its key, the
    caller's vendor keys."""
    request_id, idempotent = requests.request_id(key.id, headers)
    return CallContext(
        request_id=request_id,
        idempotent=idempotent,
        budgeted=key.budget is not None,
        key_id=key.id,
        model_id=model_id,
        provider_keys=provider_keys(headers.items()),
        started_at=time.time(),
        disconnected=client_gone(receive),
    )


@dataclass(slots=True)
class Completed:
    response: ChatResponse
    billing: Billing
    provider: str


@dataclass(slots=True)
class Embedded:
    response: EmbeddingResponse
    billing: Billing
    provider: str
    """The vendor, or `pool:<name>`."""


@dataclass(slots=True)
class Lease:
    """What one attempt runs on: a vendor endpoint, or one member of a worker pool."""

    adapter: Adapter
    provider: str
    endpoint: str
    base_url: str | None = None
    meter: str | None = None
    release: Callable[[bool], None] = field(default=lambda ok: None)


class PoolProvider(Protocol):
    async def acquire(self, pool: str, exclude: frozenset[str]) -> Lease:
        """A healthy member with capacity, not in `exclude`; raises GatewayError if none."""
        ...

    def served(self, pool: str) -> frozenset[str] | None:
        """The models the pool's members say they serve; None when they did not say."""
        ...


@dataclass(slots=True)
class Attempts:
    count: int = 0
    lease: Lease | None = None
    breaker: tuple[str, str] | None = None
    """The breaker of the target that the last attempt went to: `(provider or pool:<name>,
    upstream model)`, the key admission checks, so a stream that fails after it started
    counts against the same breaker (never under a pool member's URL)."""


async def guarded(context: CallContext, work: Awaitable[T]) -> T:
    """Run `work` in this task, cancelling it the moment the client disconnects.

    One watcher task per request; the work itself is not wrapped in a task."""
    if context.disconnected is None:
        return await work
    current = asyncio.current_task()
    assert current is not None
    state = {"finished": False, "gone": False}

    def on_gone(watcher: asyncio.Future[object]) -> None:
        if not watcher.cancelled() and not state["finished"]:
            state["gone"] = True
            current.cancel()

    watcher = asyncio.ensure_future(context.disconnected())
    watcher.add_done_callback(on_gone)
    try:
        return await work
    except asyncio.CancelledError:
        if state["gone"]:
            current.uncancel()
            raise ClientDisconnected from None
        raise
    finally:
        state["finished"] = True
        watcher.cancel()


def usage_row(
    context: CallContext,
    provider: str | None,
    status: str,
    attempts: int,
    usage: Usage,
    inference_time: float,
    billing: Billing | None,
    error_code: str | None = None,
) -> UsageRow:
    return UsageRow(
        request_id=context.request_id,
        key_id=context.key_id,
        model=context.model_id,
        provider=provider,
        status=status,
        attempts=attempts,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0,
        reasoning_tokens=usage.reasoning_tokens if usage.reasoning_tokens is not UNSET else 0,
        inference_time=inference_time,
        meter=billing.meter if billing else None,
        cost=billing.cost if billing else None,
        error_code=error_code,
        started_at=context.started_at,
        finished_at=time.time(),
    )


def started_row(context: CallContext, provider: str) -> UsageRow:
    """The row a call writes before any vendor is called: no usage, no end yet."""
    row = usage_row(context, provider, "started", 0, Usage(), 0.0, None)
    row.finished_at = None
    return row


def failed_row(context: CallContext, attempts: Attempts, error: BaseException, elapsed: float) -> UsageRow:
    """The final row of a call that produced no answer: the vendor's failure, the client
    gone (cancelled, `ClientDisconnected`), or the gateway's own fault (`internal_error`)."""
    provider = attempts.lease.provider if attempts.lease else None
    code: str | None
    if isinstance(error, GatewayError):
        status = "timeout" if error.code is Code.TIMEOUT else "upstream_error"
        code = error.code
    elif isinstance(error, Exception) and not isinstance(error, ClientDisconnected):
        status, code = "upstream_error", Code.INTERNAL
    else:
        status, code = "client_disconnected", None
    return usage_row(context, provider, status, attempts.count, Usage(), elapsed, None, code)
