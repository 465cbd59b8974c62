"""The attempt loop: the one place that decides where a call goes next and whether to try again.

Every kind of call (chat, a worker task, a stream until its first event, embeddings) runs
through `AttemptLoop.run`, so retries, per-attempt timeouts, breakers, member failover,
attempt spans and retry metrics live here and nowhere else. What differs between kinds is
handed in: `build` turns a lease into the adapter's call (media inlined, the kind's call
type), `run` makes that call.

For each target in order (a target whose breaker is open is skipped unless all are): up to
`retry.attempts` tries with full-jitter backoff or the vendor's Retry-After, while the
retry budget and the deadline allow; at a pool, a retry goes to another member at once. A
non-retryable failure (400/401/403/404/422) ends the call, except a context-length failure,
which may go to the route's `context_fallback`. Without `fallback` (embeddings) only the
route's first target is tried: vectors from another model live in another space, and
mixing them into an index silently breaks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from adapters.base import Adapter, EmbeddingCall, Timeouts, UpstreamCall
from proxy import observability as observe
from proxy.dispatch.breakers import BreakerBoard
from proxy.dispatch.call import Attempts, Lease, PoolProvider
from proxy.dispatch.retry import RetryPolicy
from proxy.identity.request import provider_key
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.config import Config, Route, TimeoutConfig
from schemas.errors import Code, GatewayError, UpstreamError

T = TypeVar("T")
C = TypeVar("C", UpstreamCall, EmbeddingCall)
Build = Callable[[Lease, ResolvedTarget, str, Timeouts], Awaitable[C]]
"""(lease, target, vendor key, this attempt's timeouts) -> the adapter's call."""
Run = Callable[[Lease, C, float], Awaitable[T]]
"""(lease, call, first-byte timeout) -> the attempt's result; raises UpstreamError."""


def breaker_key(target: ResolvedTarget) -> tuple[str, str]:
    """A breaker per (vendor or `pool:<name>`, upstream model), never per tenant or member."""
    return (target.name, target.model)


class AttemptLoop:
    def __init__(self, config: Config, adapters: Mapping[str, Adapter], pools: PoolProvider | None) -> None:
        self._config = config
        self._adapters = adapters
        self.pools = pools
        self.retry = RetryPolicy(config.dispatch.retry)
        self.breakers = BreakerBoard(config.dispatch.breaker)
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def ordered(self, targets: tuple[ResolvedTarget, ...]) -> list[ResolvedTarget]:
        """Targets whose breaker is closed, in order; all of them if every one is open."""
        usable = [t for t in targets if not self.breakers.is_open(breaker_key(t))]
        return usable or list(targets)

    async def lease(self, target: ResolvedTarget, exclude: frozenset[str]) -> Lease:
        """What the next attempt runs on: a pool member not in `exclude`, or the vendor."""
        if target.pool is not None:
            if self.pools is None:
                raise GatewayError(
                    Code.UNSUPPORTED, f"worker pool {target.pool!r} is not served by this build", status=501
                )
            return await self.pools.acquire(target.pool, exclude)
        assert target.provider is not None
        try:
            adapter = self._adapters[target.provider]  # a dict read once built
        except KeyError:
            raise GatewayError(
                Code.UNSUPPORTED, f"provider {target.provider} is not available", status=501
            ) from None
        provider = self._config.providers.get(target.provider)
        base_url = provider.base_url if provider is not None else None
        return Lease(adapter, adapter.name, target.provider, base_url)

    async def run(  # noqa: PLR0915 - one loop, kept whole so its order of decisions reads top to bottom
        self,
        resolution: Resolution,
        route: Route | None,
        timeouts: TimeoutConfig,
        provider_keys: Mapping[str, str],
        attempts: Attempts,
        build: Build[C],
        run: Run[C, T],
        *,
        whole: bool = True,
        fallback: bool = True,
    ) -> T:
        """`whole`: a result `run` returns is the call's whole outcome, a success for the
        breaker; a started stream (False) is not yet one, its breaker is fed when it ends.
        `fallback`: False tries the route's first target only, and no `context_fallback`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total
        if fallback:
            targets = self.ordered(resolution.targets)
        else:
            targets, route = [resolution.targets[0]], None
        # the bare Provider-Key is the first target's by its place in the route; neither the
        # capability plan, the breaker filter above nor a context_fallback below hands it on
        owner = resolution.key_owner
        last: UpstreamError | None = None
        missing: GatewayError | None = None
        waited = 0.0  # seconds slept between attempts, bounded by retry.max_total_wait
        position = 0
        while position < len(targets):
            target = targets[position]
            position += 1
            try:
                key = (
                    provider_key(self._config, target.provider, provider_keys, owner)
                    if target.provider
                    else ""
                )
            except GatewayError as error:
                if target.provider == owner:
                    raise  # the caller's own vendor and no key for it: the caller must send one
                missing = missing or error  # another vendor without a key of its own is skipped
                continue
            breaker = breaker_key(target)
            exclude: frozenset[str] = frozenset()
            for attempt in range(self._config.dispatch.retry.attempts):
                if not self.breakers.allows(breaker) and len(targets) > position:
                    break
                try:
                    lease = await self.lease(target, exclude)
                except UpstreamError as error:
                    last = error
                    break
                remaining = deadline - loop.time()
                try:
                    call = await build(
                        lease,
                        target,
                        key,
                        Timeouts(connect=timeouts.connect, total=max(remaining, 0.001)),
                    )
                except BaseException:
                    lease.release(True)  # the member did nothing wrong: the request did
                    raise
                attempts.count += 1
                attempts.lease = lease
                attempts.breaker = breaker
                try:
                    first_byte = min(remaining, timeouts.first_byte)
                    result = await observe.attempt(
                        run(lease, call, first_byte), lease, call, retry=attempt > 0
                    )
                except UpstreamError as error:
                    lease.release(False)
                    self.breakers.record(breaker, error.code)
                    last = error
                    if error.code is Code.CONTEXT_LENGTH and route is not None and route.context_fallback:
                        spare = route.context_fallback
                        targets = [ResolvedTarget(spare.provider, spare.pool, spare.model or target.model)]
                        position = 0
                        route = None
                        break
                    if not error.retryable:
                        raise
                    if target.pool is not None:
                        exclude = exclude | {lease.endpoint}
                    delay = self.retry.delay(error, attempt)
                    if delay is not None and waited + delay > self._config.dispatch.retry.max_total_wait:
                        delay = None
                    if delay is None or not self.retry.budget_allows() or loop.time() + delay >= deadline:
                        break
                    waited += delay
                    self.retry.retries_in_flight += 1
                    try:
                        await self.sleep(
                            0.0 if target.pool is not None and error.retry_after is None else delay
                        )
                    finally:
                        self.retry.retries_in_flight -= 1
                    continue
                except BaseException:
                    lease.release(False)
                    raise
                if whole:
                    self.breakers.record(breaker, None)
                return result
        if last is None:
            assert missing is not None  # no target was tried: each one lacked its key
            raise missing
        raise last
