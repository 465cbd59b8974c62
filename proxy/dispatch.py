"""Dispatch: the one place that calls adapters, measures the call, meters it and writes the ledger.

A stream's first event is awaited before the response is committed, so a failure before
the first byte still answers with a truthful HTTP status; after it, a failure becomes an
`error` event followed by `done`, never a clean-looking end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from msgspec import UNSET

from adapters.base import Adapter, Timeouts, UpstreamCall
from proxy.credentials import provider_key
from proxy.ledger import Ledger, UsageRow
from proxy.metering import Meter
from proxy.routing import Resolution, ResolvedTarget
from schemas.chat import ChatRequest, ChatResponse, Usage
from schemas.config import Config
from schemas.errors import Code, GatewayError
from schemas.events import Billing, Done, ErrorEvent, Finish, Start, StreamEvent, UsageEvent

log = logging.getLogger("unigate.dispatch")


@dataclass(slots=True)
class CallContext:
    request_id: str
    key_id: str | None
    model_id: str
    provider_keys: Mapping[str, str]
    """`Provider-Key` under "" and each `Provider-Key-<Vendor>` under the vendor's name."""
    started_at: float


@dataclass(slots=True)
class Completed:
    response: ChatResponse
    billing: Billing
    provider: str


class Dispatcher:
    def __init__(self, config: Config, adapters: Mapping[str, Adapter], ledger: Ledger, meter: Meter) -> None:
        self._config = config
        self._adapters = adapters
        self._ledger = ledger
        self._meter = meter

    def _prepare(
        self, request: ChatRequest, resolution: Resolution, context: CallContext
    ) -> tuple[Adapter, UpstreamCall, ResolvedTarget]:
        target = resolution.targets[0]
        if target.provider is None:
            raise GatewayError(
                Code.UNSUPPORTED,
                f"{context.model_id} routes to worker pool {target.pool!r}, "
                "which this build does not serve yet",
                status=501,
            )
        adapter = self._adapters.get(target.provider)
        if adapter is None:
            raise GatewayError(
                Code.UNSUPPORTED, f"provider {target.provider} is not available in this build", status=501
            )
        provider_config = self._config.providers.get(target.provider)
        call = UpstreamCall(
            request=request,
            model=target.model,
            api_key=provider_key(self._config, target.provider, context.provider_keys, first=True),
            base_url=provider_config.base_url if provider_config else None,
            timeouts=Timeouts(
                connect=provider_config.connect_timeout if provider_config else 5.0,
                total=provider_config.timeout if provider_config else 600.0,
            ),
        )
        return adapter, call, target

    def _row(
        self,
        context: CallContext,
        provider: str,
        status: str,
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
            attempts=1,
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

    async def complete(self, request: ChatRequest, resolution: Resolution, context: CallContext) -> Completed:
        adapter, call, target = self._prepare(request, resolution, context)
        provider = adapter.name
        clock = time.perf_counter()
        try:
            response = await adapter.complete(call)
        except GatewayError as error:
            elapsed = time.perf_counter() - clock
            self._ledger.record(
                self._row(context, provider, "upstream_error", Usage(), elapsed, None, error.code)
            )
            raise
        elapsed = time.perf_counter() - clock
        billing = self._meter.vendor_billing(
            context.model_id, provider, target.model, response.usage, elapsed
        )
        self._ledger.record(self._row(context, provider, "completed", response.usage, elapsed, billing))
        return Completed(response, billing, provider)

    async def stream(
        self, request: ChatRequest, resolution: Resolution, context: CallContext
    ) -> AsyncIterator[StreamEvent]:
        """Start the upstream stream and wait for its first event; then hand over the rest."""
        adapter, call, target = self._prepare(request, resolution, context)
        clock = time.perf_counter()
        upstream = aiter(adapter.stream(call))
        try:
            first = await anext(upstream)
        except StopAsyncIteration:
            first = None
        except GatewayError as error:
            elapsed = time.perf_counter() - clock
            self._ledger.record(
                self._row(context, adapter.name, "upstream_error", Usage(), elapsed, None, error.code)
            )
            raise
        return self._relay(upstream, first, adapter.name, target, context, clock)

    async def _relay(
        self,
        upstream: AsyncIterator[StreamEvent],
        first: StreamEvent | None,
        provider: str,
        target: ResolvedTarget,
        context: CallContext,
        clock: float,
    ) -> AsyncIterator[StreamEvent]:
        usage = Usage()
        status = "client_disconnected"
        error_code: str | None = None
        billing: Billing | None = None
        try:
            start = Start(id=context.request_id, model=context.model_id, provider=provider)
            if isinstance(first, Start):
                start.warnings = first.warnings
            yield start
            finished = False
            pending = first
            while True:
                if pending is None:
                    try:
                        pending = await anext(upstream)
                    except StopAsyncIteration:
                        break
                event, pending = pending, None
                if isinstance(event, Start):
                    continue
                if isinstance(event, UsageEvent):
                    usage = Usage(
                        input_tokens=event.input_tokens,
                        output_tokens=event.output_tokens,
                        cached_input_tokens=event.cached_input_tokens,
                        reasoning_tokens=event.reasoning_tokens,
                    )
                elif isinstance(event, Finish):
                    finished = True
                yield event
            if not finished:
                raise GatewayError(Code.CONNECTION, f"{provider} ended the stream without finishing")
            billing = self._meter.vendor_billing(
                context.model_id, provider, target.model, usage, time.perf_counter() - clock
            )
            status = "completed"
            yield billing
        except GatewayError as error:
            status, error_code = "upstream_error", error.code
            if error.code is Code.TIMEOUT:
                status = "timeout"
            yield ErrorEvent(
                code=error.code, message=error.message, retryable=error.retryable, provider=provider
            )
        except asyncio.CancelledError:
            status = "client_disconnected"
            raise
        finally:
            closer = getattr(upstream, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    log.debug("closing the upstream stream failed", exc_info=False)
            self._ledger.record(
                self._row(context, provider, status, usage, time.perf_counter() - clock, billing, error_code)
            )
        yield Done()
