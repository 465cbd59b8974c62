"""OpenTelemetry traces: a server span per request, a client span per upstream attempt.

Off (the default, no endpoint set) nothing of OpenTelemetry's SDK is imported and every
method returns at once. On, the SDK's TracerProvider is built here, not installed globally,
so two gateways in one process (the tests) never share one; the OTLP/HTTP exporter is
imported only when an endpoint is set. A client's W3C `traceparent` parents the request's
span (and its sampling decision wins); each attempt at a worker pool carries the attempt
span's own `traceparent`, so the worker's spans join the trace. Vendors get none.

Prompts and completions go on spans only with `[tracing] capture_content = true`; every
attribute string is redacted first (proxy/server/redaction.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from proxy.server.redaction import masked_url, redact
from schemas.chat import ChatRequest
from schemas.config import TracingConfig
from schemas.embeddings import EmbeddingRequest

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

    from adapters.base import EmbeddingCall, UpstreamCall
    from proxy.dispatch.call import Lease

_encode = msgspec.json.encode
_PROPAGATED = frozenset({"traceparent", "tracestate"})


def enabled(config: TracingConfig) -> bool:
    return config.enabled if config.enabled is not None else bool(config.otlp_endpoint)


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces path, added to a bare collector address as the SDK's env does."""
    return endpoint if urlsplit(endpoint).path not in ("", "/") else endpoint.rstrip("/") + "/v1/traces"


class Tracing:
    def __init__(self, config: TracingConfig) -> None:
        self.capture_content = config.capture_content
        self.provider: TracerProvider | None = None
        if not enabled(config):
            return
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace import SpanKind, set_span_in_context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name}),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
        )
        if config.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            exporter = OTLPSpanExporter(endpoint=traces_url(config.otlp_endpoint))
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self.provider.get_tracer("unigate")
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = SpanKind
        self._in_context = set_span_in_context

    @property
    def on(self) -> bool:
        return self.provider is not None

    def request_span(self, headers: Iterable[tuple[bytes, bytes]], method: str, surface: str) -> Span | None:
        if self.provider is None:
            return None
        carrier = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in headers
            if name.lower() in (b"traceparent", b"tracestate")
        }
        parent = self._propagator.extract(carrier) if carrier else None
        return self._tracer.start_span(
            f"{method} {surface}",
            context=parent,
            kind=self._kinds.SERVER,
            attributes={"http.request.method": method, "unigate.surface": surface},
        )

    def attempt_span(
        self, parent: Span | None, lease: Lease, call: UpstreamCall | EmbeddingCall, kind: str, number: int
    ) -> Span | None:
        if self.provider is None or parent is None:
            return None
        request = call.request
        operation = "embeddings" if isinstance(request, EmbeddingRequest) else "chat"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.system": lease.provider,
            "gen_ai.provider.name": lease.provider,
            "gen_ai.request.model": redact(call.model),
            "unigate.attempt.number": number,
            "unigate.attempt.kind": kind,
        }
        if lease.base_url:
            attributes["server.address"] = redact(masked_url(lease.base_url))
        if self.capture_content and isinstance(request, ChatRequest):
            attributes["gen_ai.input.messages"] = redact(_encode(request.messages).decode())
        span = self._tracer.start_span(
            f"{operation} {redact(call.model)}",
            context=self._in_context(parent),
            kind=self._kinds.CLIENT,
            attributes=attributes,
        )
        if lease.provider.startswith("pool:"):  # a worker joins the trace; a vendor is not told
            self._propagator.inject(call.headers, context=self._in_context(span))
        return span

    def attempt_ended(self, span: Span | None, result: object, error: BaseException | None) -> None:
        if span is None:
            return
        if error is not None:
            _failed(span, error)
        else:
            _answered(span, result, self.capture_content)
        span.end()


def _failed(span: Span, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    code = getattr(error, "code", None)
    kind = str(code) if code is not None else type(error).__name__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))


def _answered(span: Span, result: object, capture_content: bool) -> None:
    """A unary answer's model, usage and finish; a stream's first event says less."""
    model = getattr(result, "model", None)
    if isinstance(model, str):
        span.set_attribute("gen_ai.response.model", redact(model))
    usage = getattr(result, "usage", None)
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    reason = getattr(result, "finish_reason", None)
    if isinstance(reason, str):
        span.set_attribute("gen_ai.response.finish_reasons", [reason])
    content = getattr(result, "content", None)
    if capture_content and isinstance(content, str):
        span.set_attribute("gen_ai.output.messages", redact(content))


def end_request(span: Span | None, attributes: dict[str, Any], name: str, failed: str | None) -> None:
    if span is None:
        return
    span.update_name(name)
    span.set_attributes(
        {k: redact(v) if isinstance(v, str) else v for k, v in attributes.items() if v is not None}
    )
    if failed:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", failed)
        span.set_status(Status(StatusCode.ERROR, failed))
    span.end()
