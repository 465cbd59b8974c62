"""What a platform team watches: Prometheus metrics, OpenTelemetry traces, structured logs.

The front door (proxy/front_door.py) opens an `Exchange` per request and, when the answer has been
sent, counts it, ends its span and writes its access line; the rest of the gateway reports
into the request's exchange through the few hooks re-exported here (one line at each call
site), so no handler counts anything itself.

- `exchange.py`: the per-request record and the hooks dispatch, limits and pools call.
- `metrics.py`: the metric families, their bounded labels, the exposition (multiprocess).
- `sampler.py`: gauges read from the gateway's state (breakers, pools, ledger, streams).
- `tracing.py`: the tracer, its spans, `traceparent` in and out; imports the OpenTelemetry
  SDK only when tracing is on, and the OTLP exporter only when an endpoint is set.
- `logs.py`: the JSON / text formatter, levels, the access line; every field redacted.
- `endpoint.py`: `/metrics` on the gateway's port or on its own, behind its own token.

May import: schemas, proxy.server (redaction, request ids), proxy.settings, and the packages
that call it for their types only (under TYPE_CHECKING): nothing here may import dispatch,
limits, pools or accounting at run time, since they all import this package.
"""

from proxy.observability.exchange import attempt, identified, noted_model, pool_waited, refused

__all__ = ["attempt", "identified", "noted_model", "pool_waited", "refused"]
