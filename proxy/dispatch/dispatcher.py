"""Dispatch: the one place that calls adapters. What a surface asks for (a chat answer, a
stream, a worker task, embeddings) is planned here, run through the one attempt loop
(proxy/dispatch/attempts.py: retries, fallback, breakers, timeouts, attempt spans), and
accounted for: the start row, the bill, exactly one final ledger row, whatever happens.

A stream counts as started only when its first event arrived (peeked before the response is
committed: proxy/dispatch/relay.py `open_stream`), so a failure until then can still retry
or fall back; after it, the relay in the same file carries it. Cancellation: the client leaving cancels the
call (`guarded`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

import msgspec

from adapters.base import Adapter, EmbeddingAdapter, EmbeddingCall, TaskAdapter, Timeouts, UpstreamCall
from proxy.accounting.accounts import Accounts
from proxy.accounting.ledger import Ledger
from proxy.accounting.metering import Meter
from proxy.dispatch.attempts import AttemptLoop, Build, C, Run
from proxy.dispatch.breakers import BreakerBoard
from proxy.dispatch.call import (
    Attempts,
    CallContext,
    Completed,
    Embedded,
    Lease,
    PoolProvider,
    failed_row,
    guarded,
    usage_row,
)
from proxy.dispatch.media_inlining import MediaFetcher, inline_media
from proxy.dispatch.relay import Outcome, Relay, open_stream, start_event
from proxy.dispatch.retry import RetryPolicy
from proxy.routing import capabilities
from proxy.routing.capabilities import Plan, Request
from proxy.routing.routes import Resolution, ResolvedTarget
from schemas.chat import ChatRequest, ChatResponse, Usage, has_media
from schemas.config import Config, Route, TimeoutConfig
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import Billing, StreamEvent
from schemas.tasks import RunRequest, RunResponse, TaskResult

T = TypeVar("T")
R = TypeVar("R", ChatResponse, RunResponse, EmbeddingResponse)
Bill = Callable[[CallContext, Lease, str, Usage, float], Billing]
"""(context, lease, upstream model, usage, seconds) -> what the call cost (proxy/accounting)."""


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
        self.attempts = AttemptLoop(config, adapters, pools)
        self.media = media
        self._routes = {route.match: route for route in config.routes}
        self._merged_timeouts: dict[str, TimeoutConfig] = {}
        self.relays: set[Relay] = set()

    @property
    def pools(self) -> PoolProvider | None:
        return self.attempts.pools

    @pools.setter
    def pools(self, pools: PoolProvider | None) -> None:
        self.attempts.pools = pools

    @property
    def retry(self) -> RetryPolicy:
        return self.attempts.retry

    @property
    def breakers(self) -> BreakerBoard:
        return self.attempts.breakers

    # -- planning ---------------------------------------------------------------------

    def _route(self, resolution: Resolution) -> Route | None:
        return self._routes.get(resolution.route) if resolution.route else None

    def timeouts(self, resolution: Resolution) -> TimeoutConfig:
        """`[dispatch.timeouts]` with the route's own `timeouts` over it."""
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

    def _plan(self, request: Request, resolution: Resolution) -> Plan[Request]:
        """Targets that cannot take the request dropped, before any is called (capabilities.py)."""
        if self._catalogue is None:
            return Plan(request, resolution)
        pools = self.pools
        served = pools.served if pools is not None else (lambda pool: None)
        return capabilities.plan(request, resolution, self._catalogue, served)

    def _chat_call(self, request: ChatRequest | RunRequest) -> Build[UpstreamCall]:
        """How a chat or task attempt's call is built: a chat turn's media the target cannot
        fetch inlined first (a task's media input is fetched for it by its surface)."""

        async def build(lease: Lease, target: ResolvedTarget, key: str, timeouts: Timeouts) -> UpstreamCall:
            inlined = request
            if self.media is not None and isinstance(request, ChatRequest) and has_media(request):
                inlined = await inline_media(request, lease.adapter.capabilities, self.media)
            return UpstreamCall(
                request=inlined,
                model=target.model,
                api_key=key,
                base_url=lease.base_url,
                timeouts=timeouts,
                max_output_bytes=self._config.media.max_output_bytes,
            )

        return build

    def _run(
        self,
        resolution: Resolution,
        context: CallContext,
        attempts: Attempts,
        build: Build[C],
        run: Run[C, T],
        *,
        whole: bool = True,
        fallback: bool = True,
    ) -> Awaitable[T]:
        """The attempt loop over this resolution's targets, under its route's timeouts."""
        return self.attempts.run(
            resolution,
            self._route(resolution),
            self.timeouts(resolution),
            context.provider_keys,
            attempts,
            build,
            run,
            whole=whole,
            fallback=fallback,
        )

    # -- unary calls -----------------------------------------------------------------------

    async def _unary(
        self,
        request: ChatRequest | RunRequest | EmbeddingRequest,
        resolution: Resolution,
        context: CallContext,
        build: Build[C],
        invoke: Callable[[Lease, C], Awaitable[R]],
        bill: Bill,
        *,
        fallback: bool = True,
    ) -> tuple[R, Billing, str]:
        """One non-streamed call: its start row, the attempts, cancellation, the bill and its
        final ledger row."""
        await self.accounts.begin(request, context, resolution)
        attempts = Attempts()
        clock = time.perf_counter()
        upstream_model: dict[str, str] = {}

        async def run(lease: Lease, call: C, _: float) -> R:
            upstream_model["model"] = call.model
            try:
                async with asyncio.timeout(call.timeouts.total):
                    return await invoke(lease, call)
            except TimeoutError:
                raise UpstreamError(
                    Code.TIMEOUT, f"{lease.provider} did not answer in time", provider=lease.provider
                ) from None

        retry = self.retry
        retry.in_flight += 1
        try:
            response = await guarded(
                context, self._run(resolution, context, attempts, build, run, fallback=fallback)
            )
        except BaseException as error:
            self.accounts.record(context, failed_row(context, attempts, error, time.perf_counter() - clock))
            raise
        finally:
            retry.in_flight -= 1
        elapsed = time.perf_counter() - clock
        assert attempts.lease is not None
        lease = attempts.lease
        lease.release(True)
        model = upstream_model["model"]
        measured = response.measured if isinstance(response, RunResponse) else None
        if measured is not None:  # a media call: billed by what it measured (images, seconds, ...)
            billing = self.accounts.bill(context, lease, model, response.usage, elapsed, measured)
        else:
            billing = bill(context, lease, model, response.usage, elapsed)
        self.accounts.record(
            context,
            usage_row(context, lease.provider, "completed", attempts.count, response.usage, elapsed, billing),
        )
        return response, billing, lease.provider

    async def complete(self, request: ChatRequest, resolution: Resolution, context: CallContext) -> Completed:
        planned = self._plan(request, resolution)

        async def invoke(lease: Lease, call: UpstreamCall) -> ChatResponse:
            return await lease.adapter.complete(call)

        response, billing, provider = await self._unary(
            planned.request,
            planned.resolution,
            context,
            self._chat_call(planned.request),
            invoke,
            self.accounts.bill,
        )
        response.warnings[:0] = planned.warnings
        return Completed(response, billing, provider)

    async def run_task(self, request: RunRequest, resolution: Resolution, context: CallContext) -> TaskResult:
        """A non-chat task (text-generation, embeddings, classification, ...) on a worker pool,
        with the attempts, member failover, cancellation, billing and ledger row of `complete`.
        A streamed task goes through `stream`, which carries `ChatRequest | RunRequest`."""
        planned = self._plan(request, resolution)

        async def invoke(lease: Lease, call: UpstreamCall) -> RunResponse:
            if not isinstance(lease.adapter, TaskAdapter):
                raise GatewayError(
                    Code.UNSUPPORTED,
                    f"{lease.provider} cannot run the {request.task} task",
                    provider=lease.provider,
                )
            return await lease.adapter.run(call)

        response, billing, provider = await self._unary(
            planned.request,
            planned.resolution,
            context,
            self._chat_call(planned.request),
            invoke,
            self.accounts.bill,
        )
        return TaskResult(response, billing, provider)

    async def embed(
        self, request: EmbeddingRequest, resolution: Resolution, context: CallContext
    ) -> Embedded:
        """Embeddings at the route's first target only (no fallback: another model's vectors
        live in another space), with the retries, breaker, member failover, cancellation,
        billing and ledger row of `complete`. A vendor without embeddings is refused before
        any row is written: the call could not have cost anything."""
        target = resolution.targets[0]
        if target.provider is not None:
            adapter: object = self._adapters.get(target.provider)
            if not isinstance(adapter, EmbeddingAdapter) or not adapter.capabilities.embeddings:
                raise GatewayError(
                    Code.UNSUPPORTED,
                    f"{context.model_id} routes to {target.provider}, which has no embeddings in this build",
                    provider=target.provider,
                )

        async def build(lease: Lease, target: ResolvedTarget, key: str, timeouts: Timeouts) -> EmbeddingCall:
            return EmbeddingCall(
                request=request, model=target.model, api_key=key, base_url=lease.base_url, timeouts=timeouts
            )

        async def invoke(lease: Lease, call: EmbeddingCall) -> EmbeddingResponse:
            embedder: object = lease.adapter
            if not isinstance(embedder, EmbeddingAdapter):
                raise GatewayError(
                    Code.UNSUPPORTED, f"{lease.provider} has no embeddings", provider=lease.provider
                )
            return await embedder.embed(call)

        response, billing, provider = await self._unary(
            request, resolution, context, build, invoke, self.accounts.bill_embedding, fallback=False
        )
        return Embedded(response, billing, provider)

    # -- streams -----------------------------------------------------------------------------

    async def stream(
        self, request: ChatRequest | RunRequest, resolution: Resolution, context: CallContext
    ) -> AsyncIterator[StreamEvent]:
        """Open the upstream stream and peek its first event; then hand over the relay."""
        planned = self._plan(request, resolution)
        request, resolution = planned.request, planned.resolution
        await self.accounts.begin(request, context, resolution)
        attempts = Attempts()
        clock = time.perf_counter()
        timeouts = self.timeouts(resolution)
        retry = self.retry
        retry.in_flight += 1
        try:
            opened = await guarded(
                context,
                self._run(resolution, context, attempts, self._chat_call(request), open_stream, whole=False),
            )
        except BaseException as error:
            retry.in_flight -= 1
            self.accounts.record(context, failed_row(context, attempts, error, time.perf_counter() - clock))
            raise
        lease, breaker = attempts.lease, attempts.breaker
        assert lease is not None
        assert breaker is not None
        loop = asyncio.get_running_loop()

        def finish(outcome: Outcome) -> None:
            self.relays.discard(relay)
            retry.in_flight -= 1
            error_code = outcome.error.code if outcome.error is not None else None
            lease.release(outcome.error is None)
            self.breakers.record(breaker, error_code)
            self.accounts.record(
                context,
                usage_row(
                    context,
                    lease.provider,
                    outcome.status,
                    attempts.count,
                    outcome.usage or Usage(),
                    time.perf_counter() - clock,
                    outcome.billing,
                    error_code,
                ),
            )

        model = opened.upstream_model
        relay = Relay(
            opened.events(),
            start=start_event(context, lease.provider, opened, planned.warnings),
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
