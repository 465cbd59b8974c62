"""Model id → ordered targets, by an explicit registry: configured routes first, then the
built-in defaults, then the default worker pool.

Each target carries what the catalogue knows of its model (`known`), and a built-in vendor
route to one of the vendor's media models (`openai/whisper-1`) takes that model's task: both
decided once per model id (resolutions are cached), not on every request.

Never a guess from a prefix alone: `openai/gpt-oss-20b` and `mistralai/*` are open weights,
`openai/gpt-4o-mini` and `mistral/mistral-small-latest` are proprietary, and `google/gemma-*`
is not Gemini. Globs are case-sensitive (`fnmatchcase`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache

from schemas.catalogue import CatalogueModel
from schemas.config import Config, Pool, Route, Target
from schemas.errors import Code, GatewayError
from schemas.media import VENDOR_MEDIA_TASKS

Known = Callable[[str, str], CatalogueModel | None]
"""(provider, upstream model) → the catalogue's entry (proxy/routing/catalogue_file.py)."""

PROVIDER_PREFIX = {
    "openai": "openai/",
    "anthropic": "anthropic/",
    "gemini": "google/",
    "cohere": "cohere/",
    "mistral": "mistral/",
}

OPEN_WEIGHT_PATTERNS = ("openai/gpt-oss-*", "mistralai/*", "google/gemma-*")

BUILTIN_ROUTES: tuple[Route, ...] = (
    Route(match="openai/*", provider="openai"),
    Route(match="anthropic/*", provider="anthropic"),
    Route(match="google/gemini-*", provider="gemini"),
    Route(match="google/learnlm-*", provider="gemini"),
    Route(match="cohere/*", provider="cohere"),
    Route(match="mistral/*", provider="mistral"),
)


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    provider: str | None
    pool: str | None
    model: str
    """The upstream model name."""
    known: CatalogueModel | None = field(default=None, compare=False)
    """The catalogue's entry for a vendor's model, when `looked_up`."""
    looked_up: bool = field(default=False, compare=False)
    """`known` was asked of the catalogue (the router's targets); else ask it."""
    name: str = field(init=False, compare=False)
    """The vendor, or `pool:<name>`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.provider or f"pool:{self.pool}")


@dataclass(frozen=True, slots=True)
class Resolution:
    model_id: str
    task: str
    targets: tuple[ResolvedTarget, ...]
    route: str | None = None
    """The `match` of the configured route that took the id (None: built-in or pool)."""
    key_owner: str | None = ""
    """The vendor the caller's bare `Provider-Key` is for: the route's first target's, by its
    place in the route (None: a worker pool). Fixed when the id is routed, so targets dropped
    later (a capability the model lacks, an open breaker) or added (the request's own
    `fallbacks`) never hand that key to another vendor. Left unset, it is taken from the
    first target."""

    def __post_init__(self) -> None:
        if self.key_owner == "":
            object.__setattr__(self, "key_owner", self.targets[0].provider if self.targets else None)


def upstream_model(model_id: str, provider: str | None, explicit: str | None) -> str:
    if explicit:
        return explicit
    prefix = PROVIDER_PREFIX.get(provider or "")
    if prefix and model_id.startswith(prefix):
        return model_id[len(prefix) :]
    return model_id


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Router:
    def __init__(self, config: Config, known: Known | None = None) -> None:
        self._known = known
        self._routes = config.routes
        self._pools = {pool.name: pool for pool in config.pools}
        self._default_pool = config.default_pool or (config.pools[0].name if config.pools else None)
        self.resolve = lru_cache(maxsize=4096)(self._resolve)

    def _target(self, model_id: str, target: Route | Target) -> ResolvedTarget:
        pool = self._pools.get(target.pool) if target.pool else None
        explicit = target.model or (pool.model if pool else None)
        model = upstream_model(model_id, target.provider, explicit)
        if target.provider is None or self._known is None:
            return ResolvedTarget(target.provider, target.pool, model)
        return ResolvedTarget(target.provider, target.pool, model, self._known(target.provider, model), True)

    def _from_route(self, model_id: str, route: Route) -> Resolution:
        targets = [self._target(model_id, route), *(self._target(model_id, t) for t in route.fallbacks)]
        task = route.task
        if route.pool and route.pool in self._pools:
            task = self._pools[route.pool].task
        configured = route.match if any(route is r for r in self._routes) else None
        first = targets[0]
        media_tasks = VENDOR_MEDIA_TASKS.get(first.provider or "", frozenset())
        if (
            configured is None
            and task == "chat"
            and first.known is not None
            and first.known.task in media_tasks
        ):
            # a built-in vendor route says chat; the catalogue knows `openai/whisper-1` is
            # speech recognition, and the native surface runs it as that task
            task = first.known.task
        return Resolution(model_id, task, tuple(targets), configured)

    def _from_pool(self, model_id: str, pool: Pool) -> Resolution:
        target = ResolvedTarget(None, pool.name, pool.model or model_id)
        return Resolution(model_id, pool.task, (target,))

    def _resolve(self, model_id: str) -> Resolution | None:
        if _CONTROL.search(model_id):
            return None  # no model is named so; and the id would travel to vendors and the ledger
        for route in self._routes:
            if fnmatchcase(model_id, route.match):
                return self._from_route(model_id, route)
        for pool in self._pools.values():
            if any(fnmatchcase(model_id, pattern) for pattern in pool.models):
                return self._from_pool(model_id, pool)
        if not any(fnmatchcase(model_id, pattern) for pattern in OPEN_WEIGHT_PATTERNS):
            for route in BUILTIN_ROUTES:
                if fnmatchcase(model_id, route.match) and not model_id.endswith("/"):
                    return self._from_route(model_id, route)
        if self._default_pool is not None:
            return self._from_pool(model_id, self._pools[self._default_pool])
        return None

    def with_fallbacks(self, resolution: Resolution, model_ids: list[str]) -> Resolution:
        """The request's own `fallbacks` (model ids), each routable, after the route's targets."""
        targets = list(resolution.targets)
        for model_id in model_ids:
            other = self.resolve(model_id)
            if other is None:
                raise GatewayError(Code.INVALID_REQUEST, f"fallback {model_id!r} is not a routable model")
            if other.task != resolution.task:
                raise GatewayError(
                    Code.INVALID_REQUEST, f"fallback {model_id!r} is not a {resolution.task} model"
                )
            targets.extend(t for t in other.targets[:1] if t not in targets)
        return dataclasses.replace(resolution, targets=tuple(targets))

    def routes(self) -> list[tuple[str, str]]:
        """(pattern, destination) in matching order, for `unigate check` and the catalogue."""
        rows: list[tuple[str, str]] = []
        for route in self._routes:
            rows.append((route.match, route.provider or f"pool:{route.pool}"))
        for pool in self._pools.values():
            rows.extend((pattern, f"pool:{pool.name}") for pattern in pool.models)
        rows.extend((pattern, "open weights: default pool") for pattern in OPEN_WEIGHT_PATTERNS)
        rows.extend((route.match, str(route.provider)) for route in BUILTIN_ROUTES)
        if self._default_pool:
            rows.append(("*", f"pool:{self._default_pool}"))
        return rows
