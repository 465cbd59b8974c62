"""config.toml, decoded once into frozen Structs (see proxy/settings.py for loading)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Struct

VENDORS = ("openai", "anthropic", "gemini", "cohere", "mistral")


class ServerConfig(Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 10 * 1024 * 1024
    ping_interval: float = 15.0
    receipt_timeout: float = 15.0
    """A request must arrive in full within this many seconds, or its connection is closed."""
    max_connections: int | None = None
    """Beyond this many open connections and running requests, new ones get a 503."""
    preload: tuple[str, ...] = ()
    """Vendors whose SDK to import at start-up; the others are imported on first use."""


class DatabaseConfig(Struct, frozen=True, forbid_unknown_fields=True):
    url: str | None = None
    """`sqlite:///<path>`; unset means an SQLite file beside the config."""
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """NORMAL survives a process crash (kill -9); FULL also a power loss, at an fsync per commit."""
    final_row_hold: Annotated[float, msgspec.Meta(ge=0, le=5)] = 0.05
    """Seconds a finished request's row may wait to commit with the next request's start row
    (SQLite, NORMAL: one commit a request instead of two, ~5 % of a request's CPU). A kill -9
    within it leaves that request's row `interrupted` at cost 0, and the commit moves onto the
    next request's path (+~0.07 ms for one client sending back to back); 0 commits every row
    at once."""


class TimeoutConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """Seconds. `first_byte` bounds the wait for a stream's first event; `idle` the gap
    between events; `total` the whole call, retries included."""

    connect: float = 5.0
    first_byte: float = 60.0
    idle: float = 60.0
    total: float = 600.0


class RouteTimeouts(Struct, frozen=True, forbid_unknown_fields=True):
    """A route's own timeouts; each one left out keeps the `[dispatch.timeouts]` value."""

    connect: float | None = None
    first_byte: float | None = None
    idle: float | None = None
    total: float | None = None


class RetryConfig(Struct, frozen=True, forbid_unknown_fields=True):
    attempts: int = 3
    """Per target, the first try included; retries happen only before the first byte."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 20.0
    """A Retry-After longer than this is not waited for: the next target is tried, or the
    client gets the 429 with the wait in its own Retry-After."""
    max_total_wait: float = 30.0
    budget_ratio: float = 0.2
    """Retries in flight may be at most this share of requests in flight (floor below)."""
    budget_floor: int = 3


class BreakerConfig(Struct, frozen=True, forbid_unknown_fields=True):
    consecutive_failures: int = 5
    window: float = 60.0
    failure_ratio: float = 0.5
    min_calls: int = 10
    open_seconds: float = 30.0
    max_open_seconds: float = 300.0


class DispatchConfig(Struct, frozen=True, forbid_unknown_fields=True):
    timeouts: TimeoutConfig = msgspec.field(default_factory=TimeoutConfig)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    breaker: BreakerConfig = msgspec.field(default_factory=BreakerConfig)
    shutdown_grace: float = 20.0
    """On SIGTERM, streams still running after this many seconds end with an error event."""


class ProviderConfig(Struct, frozen=True, forbid_unknown_fields=True):
    base_url: str | None = None
    api_key: str | None = None
    """An operator key used only when a request brings no Provider-Key of its own."""


class Target(Struct, frozen=True, forbid_unknown_fields=True):
    provider: str | None = None
    pool: str | None = None
    model: str | None = None


class Route(Struct, frozen=True, forbid_unknown_fields=True):
    match: str
    provider: str | None = None
    pool: str | None = None
    model: str | None = None
    task: str = "chat"
    fallbacks: tuple[Target, ...] = ()
    context_fallback: Target | None = None
    """Where a context-length failure may go (a larger model); without it, it is a 400."""
    timeouts: RouteTimeouts | None = None


class Pool(Struct, frozen=True, forbid_unknown_fields=True):
    """Open-source workers (see docs/pools.md). `urls` are bare member addresses."""

    name: str
    urls: tuple[str, ...]
    protocol: Literal["openai", "bytez"] = "openai"
    models: tuple[str, ...] = ()
    meter: str = "SM"
    """An instance size (Micro … Super; a language-model pool reads the LLM table) or a `[meters]` name."""
    concurrency: int = 8
    """Requests in flight per member; a `bytez` container always takes 1."""
    model: str | None = None
    task: str = "chat"
    api_key: str | None = None
    """Sent as a Bearer key to `openai` members that require one (vLLM `--api-key`)."""
    health_path: str = "/health"
    health_interval: float = 5.0
    """Seconds between active health checks of each member."""
    acquire_timeout: float = 5.0
    """How long a request waits for a free member slot before answering 503 overloaded."""


class PriceTier(Struct, frozen=True, forbid_unknown_fields=True):
    """A long-context tier: a call whose input exceeds `above` tokens is billed whole at
    these prices (Anthropic's and Gemini's rule); a price left out keeps the base one."""

    above: int
    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None


class ModelPrice(Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens (Decimal: a cost is multiplied out exactly, never through a
    binary float); `per_image` per generated image, `per_audio_second` per second of audio,
    `per_million_characters` per million characters spoken (text-to-speech input).
    Which fields a model needs depends on its task (proxy/routing/catalogue_file.py checks)."""

    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    """Input read from the vendor's prompt cache."""
    cache_write: Decimal | None = None
    """Input written to the prompt cache (Anthropic: 1.25x input for 5 minutes, 2x for 1 hour)."""
    per_image: Decimal | None = None
    per_image_by: dict[str, Decimal] = msgspec.field(default_factory=dict)
    """Per image by `"<quality>/<size>"` or `"<size>"` (DALL·E: `"hd/1024x1792"`,
    `"512x512"`); with such a table, an image of a size and quality it does not list has no
    known cost (null, never guessed); without one, every image costs `per_image`."""
    per_audio_second: Decimal | None = None
    per_million_characters: Decimal | None = None
    audio_input: Decimal | None = None
    """Audio input tokens, per million, where a model prices them apart from text
    (gpt-4o-transcribe); `input` prices the text tokens of the same call."""
    tiers: tuple[PriceTier, ...] = ()


class LimitsConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """Per-key defaults (a key's own value wins; 0 on a key means unlimited) and request caps."""

    rpm: int | None = None
    """Model calls per minute per key; None: unlimited."""
    tpm: int | None = None
    """Tokens (input + output) per minute per key, counted from what calls actually used."""
    concurrency: int | None = None
    """Model calls in flight per key, a stream counting until it has fully ended."""
    max_header_bytes: int = 16 * 1024
    max_header_value_bytes: int = 4 * 1024
    max_json_depth: int = 64
    backend: Literal["memory", "redis"] = "memory"
    """Where rpm/tpm/concurrency state lives: this process (each replica enforces the limits
    on its own), or a Redis every replica shares (the limits hold across all of them)."""
    redis_url: str | None = None
    """`redis://[:password@]host:port/db` or `rediss://…`; `${ENV}` works, UNIGATE_REDIS_URL overrides."""
    redis_failure: Literal["open", "closed"] = "open"
    """Redis unreachable: "open" admits calls unlimited (logged), "closed" answers 503 overloaded."""
    redis_timeout: float = 1.0
    """Seconds to connect to Redis or wait for one reply before treating it as unreachable."""
    lease_seconds: float = 30.0
    """A call's concurrency lease lives this long unless its replica refreshes it (every third
    of it); a replica that dies frees its slots after at most this long."""

    def problem(self) -> str | None:
        """Why this section cannot be used, or None; checked once the environment is applied."""
        if self.backend == "redis" and not self.redis_url:
            return '[limits] backend = "redis" needs redis_url (or UNIGATE_REDIS_URL)'
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            return "[limits] redis_url must start with redis://, rediss:// or unix://"
        if self.redis_timeout <= 0 or self.lease_seconds <= 0:
            return "[limits] redis_timeout and lease_seconds must be positive"
        return None


class MediaConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """Fetching media URLs for vendors that need the bytes inline (see proxy/dispatch/media_inlining.py)."""

    allow_private: tuple[str, ...] = ()
    """Hosts (exact names) or networks (CIDR) that may resolve to private addresses, on any port."""
    ports: tuple[int, ...] = (80, 443)
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 10.0
    max_redirects: int = 3
    max_parts: int = 16
    max_output_bytes: int = 32 * 1024 * 1024
    """The largest media a worker may generate (decoded bytes); more answers `output_too_large`."""
    max_upload_bytes: int = 25 * 1024 * 1024
    """The largest multipart upload (`/v1/audio/transcriptions`, OpenAI's own cap is 25 MB);
    more answers 413 `payload_too_large` before the rest is read."""


class AdminConfig(Struct, frozen=True, forbid_unknown_fields=True):
    token: str | None = None
    """Guards /admin (key management); unset disables it. Never a proxy key."""


class UiConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """The web console at /ui (proxy/surfaces/console/)."""

    enabled: bool = True
    session_hours: Annotated[float, msgspec.Meta(gt=0, le=720)] = 12.0
    """How long an operator's console login lasts."""


class BudgetConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """How a call's reservation against a key's spend budget is estimated (proxy/accounting/budgets.py)."""

    output_tokens: int = 4096
    """Output tokens reserved for a call that sets no `max_tokens`."""
    pool_seconds: float = 60.0
    """Seconds of inference reserved for a call on a worker pool."""
    audio_seconds: float = 600.0
    """Seconds of audio reserved for a transcription priced per second (its length is known
    only once the vendor has read it): ten minutes, about 10 MB of 128 kbit/s MP3."""


class CatalogueConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """The model catalogue (proxy/routing/catalogue_file.py): prices, context sizes, capabilities."""

    file: str | None = None
    """A catalogue of your own in the shipped file's format, used instead of it."""
    stale_days: int = 90
    """`unigate catalogue check` calls a figure stale when it was read longer ago than this."""


class ResponsesConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """Stored Responses API answers (`store`, `previous_response_id`): proxy/surfaces/responses/store.py."""

    retention_days: float = 30.0
    """A stored response is served and continued this long, then swept (OpenAI keeps 30 days)."""


class MetricsConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """`GET /metrics` in the Prometheus text format (proxy/observability/metrics.py)."""

    enabled: bool = True
    port: int | None = None
    """Serve /metrics on this port only (not on the gateway's), for a scrape network of its own."""
    token: str | None = None
    """Scrapes must send `Authorization: Bearer <token>`; `${ENV}` works. Unset: no token asked."""
    per_key: bool = False
    """Add a `key_id` label to request, cost and refusal counters (one series per proxy key)."""


class TracingConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """OpenTelemetry traces (proxy/observability/tracing.py); off unless an endpoint is set."""

    enabled: bool | None = None
    """None: on exactly when an OTLP endpoint is set (here or OTEL_EXPORTER_OTLP_ENDPOINT)."""
    otlp_endpoint: str | None = None
    """OTLP over HTTP, like `http://collector:4318` (`/v1/traces` is added when missing)."""
    service_name: str = "unigate"
    sample_ratio: float = 1.0
    """Share of requests traced when the client sent no `traceparent` (its decision wins)."""
    capture_content: bool = False
    """Record prompts and completions on spans. Off: never, whatever else is set."""


class LoggingConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """Log format and levels (proxy/observability/logs.py)."""

    format: Literal["auto", "json", "text"] = "auto"
    """auto: JSON when standard error is not a terminal (`unigate serve` under a supervisor)."""
    level: str = "INFO"
    levels: dict[str, str] = msgspec.field(default_factory=dict)
    """Per-logger levels, like `{ "unigate.dispatch" = "DEBUG" }`."""
    access_log: bool = True
    """One line per request on the `unigate.access` logger."""


class Config(Struct, frozen=True, forbid_unknown_fields=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    dispatch: DispatchConfig = msgspec.field(default_factory=DispatchConfig)
    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    pools: tuple[Pool, ...] = ()
    default_pool: str | None = None
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    """Model id -> price, over the catalogue's (the whole price of that model is replaced)."""
    catalogue: CatalogueConfig = msgspec.field(default_factory=CatalogueConfig)
    meters: dict[str, float] = msgspec.field(default_factory=dict)
    """Meter name → USD per second of inference, for worker pools."""
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    media: MediaConfig = msgspec.field(default_factory=MediaConfig)
    admin: AdminConfig = msgspec.field(default_factory=AdminConfig)
    budgets: BudgetConfig = msgspec.field(default_factory=BudgetConfig)
    responses: ResponsesConfig = msgspec.field(default_factory=ResponsesConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    tracing: TracingConfig = msgspec.field(default_factory=TracingConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    ui: UiConfig = msgspec.field(default_factory=UiConfig)
