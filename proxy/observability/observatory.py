"""What the gateway reports about every request, and the sink its hooks report into.

The front door (proxy/front_door.py), outside Litestar's guards, limiter and exception
handling, opens each request's `Exchange` here (`open`) and hands it back when the last
byte has gone, a stream included (`finish`): so a request refused by a guard, the limiter
or a 404 is counted like any other, with the status actually sent. `finish` counts the
request, ends its span and writes its access line, from:
- the wire: status, first body bytes (a stream's first token), duration, client address;
- the final ledger row (an observer of the ledger): model, provider, tokens, cost, attempts;
- the exception Litestar handled (`after_exception`): the error code;
- the hooks (proxy/observability/exchange.py): attempts, retries, fallbacks, refusals.
Probes and scrapes (`/healthz`, `/readyz`, `/metrics`) are not counted nor logged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from litestar.types import Scope, Send

from proxy.observability import endpoint, exchange, tracing
from proxy.observability.exchange import NOT_CALLS, Exchange
from proxy.observability.logs import access
from proxy.observability.metrics import UNROUTED, Metrics, ModelLabels
from proxy.observability.sampler import LedgerLag, Sampler
from proxy.observability.tracing import Tracing
from schemas.errors import ClientDisconnected, GatewayError, code_for_status

if TYPE_CHECKING:
    from adapters.base import EmbeddingCall, UpstreamCall
    from proxy.accounting.ledger import UsageRow
    from proxy.dispatch.call import Lease
    from proxy.gateway import Gateway

log = logging.getLogger("unigate.observability")
UNOBSERVED = frozenset({"/healthz", "/readyz"})
"""Probes: neither counted nor logged."""
_OPERATIONS = {"chat": "chat", "text-generation": "text_completion", "feature-extraction": "embeddings"}
DISCONNECTED = "client_disconnected"


def surface_of(path: str) -> str:
    if path.startswith("/admin"):
        return "admin"
    if path.startswith(("/v1/messages", "/models/v2/anthropic/")):
        return "anthropic"
    if path.startswith(("/v1/", "/models/v2/openai/")):
        return "openai"
    if path.startswith("/models/v2/"):
        return "native"
    return "other"


def _operation(path: str, task: str | None) -> str:
    if path.endswith("/embeddings"):
        return "embeddings"
    return _OPERATIONS.get(task or "chat", task or "chat")


class Observatory:
    def __init__(self, gateway: Gateway) -> None:
        config = gateway.settings.config
        self.config = config
        self.metrics_on = config.metrics.enabled
        self.metrics = Metrics(config)
        self.tracing = Tracing(config.tracing)
        catalogue = gateway.catalogue
        self.models = ModelLabels(
            config,
            gateway.router.resolve,
            [p for p, _ in gateway.router.routes()],
            lambda model_id: catalogue.canonical(model_id) if catalogue.get(model_id) is not None else None,
        )
        self.ledger_lag = LedgerLag()
        self.sampler = Sampler(self.metrics, gateway, self.ledger_lag)
        self._tasks: dict[str, str] = {}
        self.metrics_here = self.metrics_on and config.metrics.port is None
        """Whether /metrics is answered on the gateway's own port."""
        self._traced = self.tracing.provider is not None
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        gateway.ledger.observers.append(self.row)
        gateway.ledger.watch_writes(self.ledger_lag.writing)
        if self.metrics_on:
            gateway.dispatcher.breakers.watch(self.metrics.breaker_moved)
        self._resolve = gateway.router.resolve

    def _child(self, family: Any, *values: str) -> Any:
        """`family.labels(*values)`, built once per label set: prometheus-client validates and
        locks on every `labels()`, about ten times a request. Bounded as the labels are."""
        key = (id(family), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = family.labels(*values)
        return found

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.metrics_on:
            self.sampler.start()

    async def stop(self) -> None:
        await self.sampler.stop()
        if self.tracing.provider is not None:
            self.tracing.provider.shutdown()
        Metrics.process_exited()

    def exposition(self) -> bytes:
        self.sampler.sample()
        return self.metrics.exposition()

    async def answer_metrics(self, scope: Scope, send: Send) -> None:
        await endpoint.answer(scope, send, self.config.metrics.token, self.exposition)

    # -- one request ---------------------------------------------------------------------

    def open(self, scope: Scope) -> Exchange:
        """The exchange of a request that has just arrived (its span, when tracing is on)."""
        client = scope.get("client")
        path: str = scope["path"]
        surface = surface_of(path)
        record = Exchange(
            self,
            time.perf_counter(),
            surface,
            str(scope.get("method", "")),
            path,
            client[0] if client else "",
            started_at=time.time(),
        )
        if self._traced:
            record.span = self.tracing.request_span(scope["headers"], record.method, surface)
        return record

    @staticmethod
    def failed(record: Exchange, error: Exception) -> None:
        """The exception a handler, guard or limiter raised, before it is rendered (the front
        door's `after_exception`): the only place the error's code is known for every surface."""
        record.code = observed_code(error)
        if isinstance(error, GatewayError) and error.provider is not None:
            record.provider_error = True

    # -- what the gateway reports --------------------------------------------------------

    def row(self, row: UsageRow) -> None:
        """The ledger's observer: each final row, on the event loop, in its request's context
        (a refusal's row is not a call: its request is counted by status and code alone)."""
        record = exchange.current()
        if record is None:
            return
        if record.row_id is None:
            record.row_id = row.request_id
        if row.status not in NOT_CALLS:
            record.row = row

    def attempt_started(
        self, record: Exchange, lease: Lease, call: UpstreamCall | EmbeddingCall, kind: str
    ) -> Any:
        if kind == "retry":
            self._child(self.metrics.retries, lease.provider).inc()
        elif kind == "fallback":
            self._child(self.metrics.fallbacks, lease.provider).inc()
        if record.span is None:
            return None  # tracing is off
        return self.tracing.attempt_span(record.span, lease, call, kind, record.attempts)

    def attempt_ended(self, record: Exchange, span: Any, result: object, error: BaseException | None) -> None:
        if error is None:
            model = getattr(result, "model", None)
            record.response_model = model if isinstance(model, str) else record.response_model
            reason = getattr(result, "finish_reason", None)
            if isinstance(reason, str):
                record.finish_reasons.append(reason)
        if span is not None:
            self.tracing.attempt_ended(span, result, error)

    def pool_waited(self, pool: str, seconds: float) -> None:
        self._child(self.metrics.pool_queue_wait, pool).observe(seconds)

    # -- the end of a request ------------------------------------------------------------

    def finish(self, record: Exchange) -> None:
        now = time.perf_counter()
        duration = now - record.started
        row = record.row
        if row is not None and row.status == DISCONNECTED:
            record.code = DISCONNECTED
        elif row is not None and row.error_code and not record.code:
            record.code = row.error_code
        elif not record.code and record.status >= 400:
            record.code = code_for_status(record.status).value
        if record.status == 499:
            record.code = DISCONNECTED
        model = self.models.label(row.model) if row is not None else ""
        provider = row.provider or "" if row is not None else ""
        upstream = record.upstream if record.attempts else (row.inference_time if row is not None else 0.0)
        until = record.first_byte if record.first_byte is not None else now
        overhead = max(0.0, (until - record.started) - upstream)
        if self.metrics_on:
            self._count(record, model, provider, duration, overhead, now)
        fields = self._access_fields(record, duration, overhead)
        access(fields)
        if record.span is not None:
            self._end_span(record, model, fields)

    def _count(
        self, record: Exchange, model: str, provider: str, duration: float, overhead: float, now: float
    ) -> None:
        metrics = self.metrics
        key = (record.key_id or (record.row.key_id if record.row else None) or "",) if metrics.per_key else ()
        self._child(
            metrics.requests, record.surface, model, provider, str(record.status), record.code, *key
        ).inc()
        self._child(metrics.duration, record.surface).observe(duration)
        self._child(metrics.overhead, record.surface).observe(overhead)
        if record.code == DISCONNECTED:
            self._child(metrics.client_disconnects, record.surface).inc()
        elif record.code == "authentication" and not record.provider_error and record.status == 401:
            self._child(metrics.unauthenticated, record.surface).inc()
        elif record.code == "budget_exceeded":
            # without [metrics] per_key the counter has no labels, and `.labels()` would raise
            (self._child(metrics.budget_refusals, *key) if key else metrics.budget_refusals).inc()
        if record.refusal is not None and record.status == 429:
            self._child(metrics.limiter_refusals, record.refusal, *key).inc()
        row = record.row
        if row is None:
            return
        if row.cost:
            self._child(metrics.cost, model, provider, *key).inc(row.cost)
        operation = _operation(record.path, self._task(row.model))
        genai = (operation, provider, model)
        failed = record.code if record.code else ""
        self._child(metrics.operation_duration, *genai, failed).observe(duration)
        if row.input_tokens:
            self._child(metrics.token_usage, *genai, "input").observe(row.input_tokens)
        if row.output_tokens:
            self._child(metrics.token_usage, *genai, "output").observe(row.output_tokens)
        if record.first_byte is not None:
            self._child(metrics.time_to_first_token, *genai).observe(record.first_byte - record.started)
            if row.output_tokens > 1:
                per_token = (now - record.first_byte) / (row.output_tokens - 1)
                self._child(metrics.time_per_output_token, *genai).observe(per_token)

    def _task(self, model_id: str | None) -> str | None:
        resolution = self._resolve(model_id) if model_id is not None else None
        return resolution.task if resolution is not None else None

    def _access_fields(self, record: Exchange, duration: float, overhead: float) -> dict[str, object]:
        row = record.row
        return {
            "request_id": record.request_id,
            "key_id": record.key_id or (row.key_id if row else None),
            "surface": record.surface,
            "method": record.method,
            "path": record.path,
            "model": row.model if row else None,
            "provider": row.provider if row else None,
            "status": record.status,
            "code": record.code or None,
            "input_tokens": row.input_tokens if row else None,
            "output_tokens": row.output_tokens if row else None,
            "cost": row.cost if row else None,
            "attempts": row.attempts if row else record.attempts,
            "duration": round(duration, 6),
            "overhead": round(overhead, 6),
            "ttft": round(record.first_byte - record.started, 6) if record.first_byte is not None else None,
            "client": record.client,
        }

    def _end_span(self, record: Exchange, model: str, fields: dict[str, object]) -> None:
        row = record.row
        operation = _operation(record.path, self._task(row.model) if row else None)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.system": row.provider if row else None,
            "gen_ai.provider.name": row.provider if row else None,
            "gen_ai.request.model": row.model if row else None,
            "gen_ai.response.model": record.response_model,
            "gen_ai.usage.input_tokens": row.input_tokens if row else None,
            "gen_ai.usage.output_tokens": row.output_tokens if row else None,
            "gen_ai.response.finish_reasons": record.finish_reasons or None,
            "http.response.status_code": record.status,
            "url.path": record.path,
            "client.address": record.client,
            "unigate.request_id": record.request_id,
            "unigate.key_id": fields["key_id"],
            "unigate.attempts": fields["attempts"],
            "unigate.cost_usd": row.cost if row else None,
            "unigate.overhead_seconds": fields["overhead"],
        }
        name = (
            f"{operation} {model}"
            if row is not None and model != UNROUTED
            else f"{record.method} {record.surface}"
        )
        failed = record.code if record.code and (record.status >= 500 or row is not None) else None
        tracing.end_request(record.span, attributes, name, failed)


def observed_code(error: BaseException) -> str:
    if isinstance(error, GatewayError):
        return str(error.code)
    if isinstance(error, ClientDisconnected):
        return DISCONNECTED
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return code_for_status(status).value if status < 500 else "internal_error"
    return "internal_error"
