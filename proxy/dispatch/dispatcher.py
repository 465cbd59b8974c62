"""Dispatch: the one place that calls adapters. Retries, fallback, breakers, timeouts,
cancellation, metering and the ledger live here and nowhere else.

For each request: the route's targets in order (a target whose breaker is open is
skipped unless all are); at each target up to `retry.attempts` tries with full-jitter
backoff or the vendor's Retry-After, only while nothing has reached the client; a
non-retryable failure (400/401/403/404/422) ends the request at once, except a
context-length failure, which may go to the route's `context_fallback`. A stream counts
as started only when its first event arrived (peeked before the response is committed),
so a failure until then can still retry or fall back; after it, see proxy/dispatch/relay.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

import msgspec

from adapters.base import Adapter, Timeouts, UpstreamCall
from adapters.workers import TaskAdapter
from proxy import observability as observe
from proxy.accounting.accounts import Accounts
from proxy.accounting.ledger import Ledger
from proxy.accounting.metering import Meter
from proxy.dispatch.breakers import BreakerBoard
from proxy.dispatch.call import (
    Attempts,
    CallContext,
    Completed,
    Lease,
    PoolProvider,
    failed_row,
    guarded,
    usage_row,
)
from proxy.dispatch.media_inlining import MediaFetcher, inline_media
from proxy.dispatch.relay import Closing, Outcome, Relay, close_quietly
from proxy.dispatch.retry import RetryPolicy
from proxy.identity.credentials import provider_key
from proxy.routing import capabilities
from proxy.routing.capabilities import Plan
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.chat import ChatRequest, ChatResponse, Usage
from schemas.config import Config, Route, TimeoutConfig
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import Billing, Start, StreamEvent
from schemas.tasks import RunRequest, RunResponse, TaskResult

log = logging.getLogger("unigate.dispatch")
T = TypeVar("T")
R = TypeVar("R", ChatResponse, RunResponse)


class Dispatcher:
    def __init__(
        self,
        config: Config,
        adapters: Mapping[str, Adapter],
        ledger: Ledger,
        meter: Meter,
        pools: PoolProvider | None = None,
        media: MediaFetcher | None = None,
    ) -> None:
        self._config = config
        self._adapters = adapters
        self.accounts = Accounts(config, ledger, meter)
        self._catalogue = meter.catalogue
        self.pools = pools
        self.media = media
        self.retry = RetryPolicy(config.dispatch.retry)
        self.breakers = BreakerBoard(config.dispatch.breaker)
        self._routes = {route.match: route for route in config.routes}
        self._merged_timeouts: dict[str, TimeoutConfig] = {}
        self.relays: set[Relay] = set()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # -- planning ---------------------------------------------------------------------

    def _route(self, resolution: Resolution) -> Route | None:
        return self._routes.get(resolution.route) if resolution.route else None

    def _timeouts(self, resolution: Resolution) -> TimeoutConfig:
        route = self._route(resolution)
        if route is None or route.timeouts is None:
            return self._config.dispatch.timeouts
        merged = self._merged_timeouts.get(route.match)
        if merged is None:
            own = {k: v for k, v in msgspec.structs.asdict(route.timeouts).items() if v is not None}
            merged = self._merged_timeouts[route.match] = msgspec.structs.replace(
                self._config.dispatch.timeouts, **own
            )
        return merged

    def _plan(self, request: ChatRequest, resolution: Resolution) -> Plan:
        """Targets that cannot take the request dropped, before any is called (capabilities.py)."""
        if self._catalogue is None:
            return Plan(request, resolution)
        served = self.pools.served if self.pools is not None else (lambda pool: None)
        return capabilities.plan(request, resolution, self._catalogue, served)

    def _breaker_key(self, target: ResolvedTarget) -> tuple[str, str]:
        return (target.name, target.model)

    def _ordered(self, targets: tuple[ResolvedTarget, ...]) -> list[ResolvedTarget]:
        """Targets whose breaker is closed, in order; all of them if every one is open."""
        usable = [t for t in targets if not self.breakers.is_open(self._breaker_key(t))]
        return usable or list(targets)

    async def _lease(self, target: ResolvedTarget, exclude: frozenset[str]) -> Lease:
        if target.pool is not None:
            if self.pools is None:
                raise GatewayError(
                    Code.UNSUPPORTED, f"worker pool {target.pool!r} is not served by this build", status=501
                )
            return await self.pools.acquire(target.pool, exclude)
        assert target.provider is not None
        adapter = self._adapters.get(target.provider)
        if adapter is None:
            raise GatewayError(Code.UNSUPPORTED, f"provider {target.provider} is not available", status=501)
        provider = self._config.providers.get(target.provider)
        base_url = provider.base_url if provider is not None else None
        return Lease(adapter, adapter.name, target.provider, base_url)

    # -- the attempt loop ------------------------------------------------------------------

    async def _attempt_all(  # noqa: PLR0915 - one loop, kept whole so its order of decisions reads top to bottom
        self,
        request: ChatRequest,
        resolution: Resolution,
        context: CallContext,
        attempts: Attempts,
        run: Callable[[Lease, UpstreamCall, float], Awaitable[T]],
        whole: bool = True,
    ) -> T:
        """`whole`: a result `run` returns is the call's whole outcome, a success for the
        breaker; a started stream (False) is not yet one, its breaker is fed when it ends."""
        loop = asyncio.get_running_loop()
        timeouts = self._timeouts(resolution)
        deadline = loop.time() + timeouts.total
        route = self._route(resolution)
        targets = self._ordered(resolution.targets)
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
                    provider_key(self._config, target.provider, context.provider_keys, owner)
                    if target.provider
                    else ""
                )
            except GatewayError as error:
                if target.provider == owner:
                    raise  # the caller's own vendor and no key for it: the caller must send one
                missing = missing or error  # another vendor without a key of its own is skipped
                continue
            breaker = self._breaker_key(target)
            exclude: frozenset[str] = frozenset()
            for attempt in range(self._config.dispatch.retry.attempts):
                if not self.breakers.allows(breaker) and len(targets) > position:
                    break
                try:
                    lease = await self._lease(target, exclude)
                except UpstreamError as error:
                    last = error
                    break
                remaining = deadline - loop.time()
                if self.media is not None:
                    try:
                        inlined = await inline_media(request, lease.adapter.capabilities, self.media)
                    except BaseException:
                        lease.release(True)
                        raise
                else:
                    inlined = request
                call = UpstreamCall(
                    request=inlined,
                    model=target.model,
                    api_key=key,
                    base_url=lease.base_url,
                    timeouts=Timeouts(connect=timeouts.connect, total=max(remaining, 0.001)),
                )
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
                        fallback = route.context_fallback
                        targets = [
                            ResolvedTarget(fallback.provider, fallback.pool, fallback.model or target.model)
                        ]
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

    # -- public ----------------------------------------------------------------------------

    async def _unary(
        self,
        request: ChatRequest,
        resolution: Resolution,
        context: CallContext,
        invoke: Callable[[Lease, UpstreamCall], Awaitable[R]],
    ) -> tuple[R, Billing, str]:
        """One non-streamed call: the attempts, cancellation, billing and its ledger row."""
        planned = self._plan(request, resolution)
        request, resolution = planned.request, planned.resolution
        await self.accounts.begin(request, context, resolution)
        attempts = Attempts()
        clock = time.perf_counter()
        upstream_model: dict[str, str] = {}

        async def run(lease: Lease, call: UpstreamCall, _: float) -> R:
            upstream_model["model"] = call.model
            try:
                async with asyncio.timeout(call.timeouts.total):
                    return await invoke(lease, call)
            except TimeoutError:
                raise UpstreamError(
                    Code.TIMEOUT, f"{lease.provider} did not answer in time", provider=lease.provider
                ) from None

        self.retry.in_flight += 1
        try:
            response = await guarded(context, self._attempt_all(request, resolution, context, attempts, run))
        except BaseException as error:
            self.accounts.record(context, failed_row(context, attempts, error, time.perf_counter() - clock))
            raise
        finally:
            self.retry.in_flight -= 1
        elapsed = time.perf_counter() - clock
        if isinstance(response, ChatResponse):
            response.warnings[:0] = planned.warnings
        assert attempts.lease is not None
        lease = attempts.lease
        lease.release(True)
        billing = self.accounts.bill(context, lease, upstream_model["model"], response.usage, elapsed)
        self.accounts.record(
            context,
            usage_row(context, lease.provider, "completed", attempts.count, response.usage, elapsed, billing),
        )
        return response, billing, lease.provider

    async def complete(self, request: ChatRequest, resolution: Resolution, context: CallContext) -> Completed:
        async def invoke(lease: Lease, call: UpstreamCall) -> ChatResponse:
            return await lease.adapter.complete(call)

        return Completed(*await self._unary(request, resolution, context, invoke))

    async def run_task(self, request: RunRequest, resolution: Resolution, context: CallContext) -> TaskResult:
        """A non-chat task (text-generation, embeddings, classification, ...) on a worker pool,
        with the attempts, member failover, cancellation, billing and ledger row of `complete`.
        A streamed task goes through `stream`: a RunRequest is a ChatRequest worker adapters know."""

        async def invoke(lease: Lease, call: UpstreamCall) -> RunResponse:
            if not isinstance(lease.adapter, TaskAdapter):
                raise GatewayError(
                    Code.UNSUPPORTED,
                    f"{lease.provider} cannot run the {request.task} task",
                    provider=lease.provider,
                )
            return await lease.adapter.run(call)

        response, billing, provider = await self._unary(request, resolution, context, invoke)
        return TaskResult(response, billing, provider)

    async def stream(  # noqa: PLR0915
        self, request: ChatRequest, resolution: Resolution, context: CallContext
    ) -> AsyncIterator[StreamEvent]:
        """Open the upstream stream and peek its first event; then hand over the relay."""
        planned = self._plan(request, resolution)
        request, resolution = planned.request, planned.resolution
        await self.accounts.begin(request, context, resolution)
        attempts = Attempts()
        clock = time.perf_counter()
        timeouts = self._timeouts(resolution)
        warnings_seen: list[str] = []

        async def run(
            lease: Lease, call: UpstreamCall, first_byte: float
        ) -> tuple[AsyncIterator[StreamEvent], StreamEvent, str]:
            warnings_seen.clear()
            upstream = aiter(lease.adapter.stream(call))
            try:
                async with asyncio.timeout(first_byte):
                    first = await anext(upstream)
                    if isinstance(first, Start):
                        # a vendor's stream-start frame is not output: an error right after it
                        # (Anthropic's overloaded_error) may still be retried or fall back
                        opening = first
                        first = await anext(upstream)
                        if opening.warnings and not isinstance(first, Start):
                            warnings_seen.extend(opening.warnings)
            except TimeoutError:
                await close_quietly(upstream)
                raise UpstreamError(
                    Code.TIMEOUT,
                    f"{lease.provider} sent nothing within {first_byte:g} s",
                    provider=lease.provider,
                ) from None
            except StopAsyncIteration:
                raise UpstreamError(
                    Code.CONNECTION, f"{lease.provider} sent an empty stream", provider=lease.provider
                ) from None
            except BaseException:
                await close_quietly(upstream)
                raise
            return upstream, first, call.model

        self.retry.in_flight += 1
        try:
            upstream, first, model = await guarded(
                context, self._attempt_all(request, resolution, context, attempts, run, whole=False)
            )
        except BaseException as error:
            self.retry.in_flight -= 1
            self.accounts.record(context, failed_row(context, attempts, error, time.perf_counter() - clock))
            raise
        assert attempts.lease is not None
        lease = attempts.lease
        start = Start(id=context.request_id, model=context.model_id, provider=lease.provider)
        if isinstance(first, Start):
            start.warnings = first.warnings
        elif warnings_seen:
            start.warnings = warnings_seen
        if planned.warnings:
            start.warnings = [*planned.warnings, *(start.warnings or [])]
        breaker = attempts.breaker
        assert breaker is not None
        loop = asyncio.get_running_loop()

        async def chain() -> AsyncIterator[StreamEvent]:
            if not isinstance(first, Start):
                yield first
            async for event in upstream:
                yield event

        def finish(outcome: Outcome) -> None:
            self.relays.discard(relay)
            self.retry.in_flight -= 1
            ok = outcome.error is None
            lease.release(ok)
            self.breakers.record(breaker, outcome.error.code if outcome.error is not None else None)
            usage = outcome.usage or Usage()
            error_code = outcome.error.code if outcome.error is not None else None
            self.accounts.record(
                context,
                usage_row(
                    context,
                    lease.provider,
                    outcome.status,
                    attempts.count,
                    usage,
                    time.perf_counter() - clock,
                    outcome.billing,
                    error_code,
                ),
            )

        relay = Relay(
            Closing(chain(), upstream),
            start=start,
            idle=timeouts.idle,
            ping_interval=self._config.server.ping_interval,
            deadline=loop.time() + timeouts.total,
            bill=lambda usage: self.accounts.bill(context, lease, model, usage, time.perf_counter() - clock),
            finish=finish,
        )
        self.relays.add(relay)
        return relay.events()

    def shutdown_streams(self) -> None:
        for relay in list(self.relays):
            relay.shutdown()
