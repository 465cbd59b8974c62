"""Embeddings dispatch: the route's first target, retried, metered and written to the ledger.

A vendor target goes through its adapter's `embed` (the adapters that declare
`capabilities.embeddings`). A worker-pool target goes through `gateway.pools.embed(request,
target, context)`, which picks a member and fails over between members itself. Either way
this module bills the call and leaves exactly one ledger row for it.

A vendor call that fails in a way worth retrying (connection, timeout, 429, 5xx) is tried
again at the same target under the dispatcher's policy (`[dispatch.retry]`: attempts,
full-jitter backoff or the vendor's Retry-After, the retry budget) and feeds its breaker.
There is deliberately no fallback to the route's other targets: vectors from another model
live in another space, and mixing them into an index silently breaks it. A client that
leaves cancels the call, as for chat.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from adapters.base import EmbeddingAdapter, EmbeddingCall, Timeouts
from proxy.dispatch.call import CallContext, guarded, started_row, usage_row
from proxy.identity.credentials import first_target_access
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.chat import Usage
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import ClientDisconnected, Code, GatewayError, UpstreamError
from schemas.events import Billing

if TYPE_CHECKING:
    from proxy.gateway import Gateway


class PoolEmbedder(Protocol):
    """What `gateway.pools` offers for embeddings: pick a member of `target.pool`, embed, and
    raise `GatewayError` / `UpstreamError` on failure. Billing and the ledger stay here."""

    async def embed(
        self, request: EmbeddingRequest, target: ResolvedTarget, context: CallContext
    ) -> EmbeddingResponse: ...


@dataclass(slots=True)
class Embedded:
    response: EmbeddingResponse
    billing: Billing
    provider: str
    """The vendor, or `pool:<name>`."""


def _vendor_call(
    gateway: Gateway, resolution: Resolution, request: EmbeddingRequest, context: CallContext
) -> tuple[EmbeddingAdapter, EmbeddingCall]:
    target = resolution.targets[0]
    assert target.provider is not None
    adapter: object = gateway.adapters.get(target.provider)
    if not isinstance(adapter, EmbeddingAdapter) or not adapter.capabilities.embeddings:
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{context.model_id} routes to {target.provider}, which has no embeddings in this build",
            provider=target.provider,
        )
    config = gateway.settings.config
    api_key, base_url = first_target_access(
        config, target.provider, context.provider_keys, resolution.key_owner
    )
    timeouts = config.dispatch.timeouts
    call = EmbeddingCall(
        request=request,
        model=target.model,
        api_key=api_key,
        base_url=base_url,
        timeouts=Timeouts(connect=timeouts.connect, total=timeouts.total),
    )
    return adapter, call


async def _retried(
    gateway: Gateway, target: ResolvedTarget, adapter: EmbeddingAdapter, call: EmbeddingCall, tries: list[int]
) -> EmbeddingResponse:
    """The vendor's answer, retried while the failure is the vendor's and the policy allows;
    `tries` counts the attempts for the ledger row."""
    dispatcher = gateway.dispatcher
    policy = dispatcher.retry
    breaker = (target.name, target.model)
    waited = 0.0
    attempt = 0
    while True:
        tries[0] = attempt + 1
        try:
            response = await adapter.embed(call)
        except UpstreamError as error:
            dispatcher.breakers.record(breaker, error.code)
            delay = policy.delay(error, attempt)
            if delay is None or waited + delay > policy.config.max_total_wait or not policy.budget_allows():
                raise
            waited += delay
            policy.retries_in_flight += 1
            try:
                await dispatcher.sleep(delay)
            finally:
                policy.retries_in_flight -= 1
            attempt += 1
            continue
        dispatcher.breakers.record(breaker, None)
        return response


def _pools(gateway: Gateway, target: ResolvedTarget) -> PoolEmbedder:
    pools: PoolEmbedder | None = getattr(gateway, "pools", None)
    if pools is None:
        raise GatewayError(
            Code.UNSUPPORTED, f"worker pool {target.pool!r} is not served by this build", status=501
        )
    return pools


async def embed(
    gateway: Gateway, request: EmbeddingRequest, resolution: Resolution, context: CallContext
) -> Embedded:
    target = resolution.targets[0]
    if target.pool is not None:
        pools = _pools(gateway, target)
        adapter: EmbeddingAdapter | None = None
        call: EmbeddingCall | None = None
    else:
        pools = None
        adapter, call = _vendor_call(gateway, resolution, request, context)
    # a budgeted key is refused once its budget is spent; an embedding's cost is too small
    # and too well known to need an estimate held for it
    reserve = 0.0 if context.budgeted else None
    row = started_row(context, target.name)
    (await gateway.ledger.begin(row, claim=context.idempotent, reserve=reserve)).check()
    clock = time.perf_counter()
    tries = [1]
    policy = gateway.dispatcher.retry
    policy.in_flight += 1
    try:
        if adapter is not None and call is not None:
            response = await guarded(context, _retried(gateway, target, adapter, call, tries))
        else:
            assert pools is not None
            response = await guarded(context, pools.embed(request, target, context))
    except GatewayError as error:
        status = "timeout" if error.code is Code.TIMEOUT else "upstream_error"
        elapsed = time.perf_counter() - clock
        row = usage_row(context, target.name, status, tries[0], Usage(), elapsed, None, error.code)
        gateway.ledger.record(row)
        raise
    except (asyncio.CancelledError, ClientDisconnected):
        elapsed = time.perf_counter() - clock
        row = usage_row(context, target.name, "client_disconnected", tries[0], Usage(), elapsed, None)
        gateway.ledger.record(row)
        raise
    except Exception:
        elapsed = time.perf_counter() - clock
        gateway.ledger.record(
            usage_row(context, target.name, "upstream_error", tries[0], Usage(), elapsed, None, Code.INTERNAL)
        )
        raise
    finally:
        policy.in_flight -= 1
    elapsed = time.perf_counter() - clock
    if target.pool is not None:
        meter = next(pool.meter for pool in gateway.settings.config.pools if pool.name == target.pool)
        billing = gateway.meter.pool_billing(meter, elapsed)
    else:
        billing = gateway.meter.vendor_billing(
            context.model_id, target.name, target.model, response.usage, elapsed
        )
    gateway.ledger.record(
        usage_row(context, target.name, "completed", tries[0], response.usage, elapsed, billing)
    )
    return Embedded(response, billing, target.name)
