"""The metric families, their labels, and the `/metrics` text.

Names follow the OpenTelemetry GenAI semantic conventions where one exists, in Prometheus
spelling (`gen_ai.client.operation.duration` → `gen_ai_client_operation_duration_seconds`,
their bucket boundaries included); the gateway's own are `unigate_*`.

Every label has a bounded set of values: a model is the route's `match` pattern or a
catalogued id (`ModelLabels`), never the raw string a client sent; a provider is a vendor
or `pool:<name>` from the config; a code is one of docs/errors.md. A key id appears only
with `[metrics] per_key = true`. No secret, prompt or raw id can reach a label.

With `PROMETHEUS_MULTIPROC_DIR` set (`unigate serve` sets it for `--workers` 2 or more, or a
separate `[metrics] port`), prometheus-client keeps each worker's values in memory-mapped
files and a scrape merges them: `--workers N` answers one view whichever worker takes the
scrape. One worker keeps them in its own memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from proxy.server.redaction import masked_url
from schemas.config import Config

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNROUTED = "unrouted"
"""The model label of an id no route takes (the id itself is the client's string)."""


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def merged_exposition() -> bytes:
    """Every worker's values, read from the multiprocess directory."""
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class ModelLabels:
    """Model id → its label: the configured route's `match`, else the id when it is
    catalogued (priced, or a pool's exact model), else the pattern that routes it."""

    def __init__(
        self,
        config: Config,
        resolve: Callable[[str], object],
        patterns: list[str],
        catalogued: Callable[[str], str | None] = lambda model_id: None,
    ) -> None:
        self._catalogued = set(config.prices)
        for pool in config.pools:
            self._catalogued.update(p for p in pool.models if not set("*?[") & set(p))
        self._resolve = resolve
        self._patterns = patterns
        self._shipped = catalogued
        """The shipped catalogue's own id for a model id it knows (an alias: its entry's id)."""
        self.label = lru_cache(maxsize=4096)(self._label)

    def _label(self, model_id: str) -> str:
        resolution = self._resolve(model_id)
        if resolution is None:
            return UNROUTED
        route = getattr(resolution, "route", None)
        if route:
            return str(route)
        if model_id in self._catalogued:
            return model_id
        shipped = self._shipped(model_id)
        if shipped is not None:
            return shipped
        return next((p for p in self._patterns if fnmatchcase(model_id, p)), "*")


class Metrics:
    def __init__(self, config: Config) -> None:
        self.per_key = config.metrics.per_key
        self.registry = registry = CollectorRegistry(auto_describe=False)
        key = ("key_id",) if self.per_key else ()
        genai = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
        self.requests = Counter(
            "unigate_requests",
            "Requests answered, by surface, model (route label), provider, HTTP status and error code.",
            ("surface", "model", "provider", "status", "code", *key),
            registry=registry,
        )
        self.duration = Histogram(
            "unigate_request_duration_seconds",
            "Time from the request's arrival to its last byte sent.",
            ("surface",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.overhead = Histogram(
            "unigate_added_overhead_seconds",
            "Time spent inside unigate, not waiting on a vendor or worker (a stream: until its first token).",
            ("surface",),
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration (upstream calls, retries and fallbacks included).",
            (*genai, "error_type"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per operation, by token type (input, output).",
            (*genai, "gen_ai_token_type"),
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the request's arrival to the first token streamed to the client.",
            genai,
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first one, for streams.",
            genai,
            buckets=TPOT_BUCKETS,
            registry=registry,
        )
        self.cost = Counter(
            "unigate_cost_usd", "USD the ledger recorded.", ("model", "provider", *key), registry=registry
        )
        self.retries = Counter(
            "unigate_retries",
            "Upstream attempts that retried the same target.",
            ("provider",),
            registry=registry,
        )
        self.fallbacks = Counter(
            "unigate_fallbacks",
            "Upstream attempts at a later target after an earlier one failed.",
            ("provider",),
            registry=registry,
        )
        self.limiter_refusals = Counter(
            "unigate_limiter_refusals",
            "Requests refused by a per-key limit, by kind (rpm, tpm, concurrency).",
            ("kind", *key),
            registry=registry,
        )
        self.budget_refusals = Counter(
            "unigate_budget_refusals",
            "Requests refused because a key's budget is spent.",
            key,
            registry=registry,
        )
        self.budget_spent_ratio = Gauge(
            "unigate_budget_spent_ratio",
            "Share of a key's budget spent or reserved, for active keys with a budget"
            " (without [metrics] per_key: the highest over them).",
            key,
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.client_disconnects = Counter(
            "unigate_client_disconnects",
            "Requests whose client left before the answer was complete.",
            ("surface",),
            registry=registry,
        )
        self.unauthenticated = Counter(
            "unigate_unauthenticated_requests",
            "Requests refused for a missing or invalid proxy key.",
            ("surface",),
            registry=registry,
        )
        self.pool_queue_wait = Histogram(
            "unigate_pool_queue_wait_seconds",
            "Time a request waited for a free worker-pool member slot.",
            ("pool",),
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.breaker_state = Gauge(
            "unigate_breaker_state",
            "Circuit breaker per target: 0 closed, 1 half-open, 2 open (the worst over its models).",
            ("target",),
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.breaker_transitions = Counter(
            "unigate_breaker_transitions",
            "Circuit breaker changes of state per target, by the state entered (open, half_open,"
            " closed); each gateway worker's breakers count their own.",
            ("target", "to"),
            registry=registry,
        )
        self.member_healthy = Gauge(
            "unigate_pool_member_healthy",
            "1 when a worker-pool member takes requests (the worst view over the gateway's workers).",
            ("pool", "member"),
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.member_in_flight = Gauge(
            "unigate_pool_member_in_flight",
            "Requests in flight on a worker-pool member.",
            ("pool", "member"),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.ledger_queue_depth = Gauge(
            "unigate_ledger_queue_depth",
            "Ledger rows waiting to be written.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.ledger_write_lag = Gauge(
            "unigate_ledger_write_lag_seconds",
            "Age of the oldest row in the ledger batch being written (or last written).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.streams_in_flight = Gauge(
            "unigate_streams_in_flight",
            "Streamed answers being relayed now.",
            multiprocess_mode="livesum",
            registry=registry,
        )

    def breaker_moved(self, target: str, to: str) -> None:
        """The breaker board's hook (proxy/dispatch/breakers.py `watch`): one change of state,
        counted as it happens, so a breaker that opens and closes between scrapes still shows."""
        self.breaker_transitions.labels(masked_url(target), to).inc()

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's values merged, in multiprocess mode."""
        return merged_exposition() if multiprocess() else generate_latest(self.registry)

    @staticmethod
    def process_exited() -> None:
        """Drop this worker's live gauges from the merged view (its counters stay counted)."""
        if multiprocess():
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
