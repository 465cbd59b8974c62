"""`unigate check` and the console's routes page: one reading of a loaded config.

Both say what a config gives (where it was read from, the database, the limiter, where it
listens, each provider, each pool, the routes in matching order), so an operator sees the
same facts in a terminal and in a browser; they share this code so the two cannot drift.
Nothing secret is in it: URLs have their password masked, an operator vendor key is only
"set" or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.routing.routes import Router
from proxy.server.redaction import masked_url
from proxy.settings import Settings

NO_CONFIG = "built-in defaults (no config.toml found)"


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    name: str
    base_url: str
    operator_key: bool

    @property
    def key_source(self) -> str:
        return "operator key set" if self.operator_key else "Provider-Key from each request"


@dataclass(frozen=True, slots=True)
class PoolFacts:
    name: str
    protocol: str
    members: int
    meter: str


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    config_path: str
    database: str
    limits: str
    listen: str
    providers: tuple[ProviderFacts, ...]
    pools: tuple[PoolFacts, ...]
    routes: tuple[tuple[str, str], ...]
    """(pattern, destination) in matching order."""

    def lines(self) -> list[str]:
        """What `unigate check` prints."""
        lines = [
            f"config: {self.config_path}",
            f"database: {self.database}",
            f"per-key limits: {self.limits}",
            f"listen: {self.listen}",
        ]
        lines += [f"provider {p.name}: {p.base_url}; {p.key_source}" for p in self.providers]
        lines += [
            f"pool {pool.name}: {pool.protocol}, {pool.members} member(s), meter {pool.meter}"
            for pool in self.pools
        ]
        return [*lines, "routes, in matching order:", *route_lines(self.routes)]


def route_lines(routes: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"  {pattern:<32} -> {destination}" for pattern, destination in routes]


def config_facts(settings: Settings, router: Router | None = None) -> ConfigFacts:
    """The facts of `settings`; `router` is the running gateway's own (else one is built)."""
    config = settings.config
    limits = config.limits
    limits_at = (
        f" at {masked_url(limits.redis_url)}" if limits.backend == "redis" and limits.redis_url else ""
    )
    server = config.server
    return ConfigFacts(
        config_path=str(settings.path) if settings.path is not None else NO_CONFIG,
        database=masked_url(settings.database_url),
        limits=f"{limits.backend}{limits_at}",
        listen=f"{server.host}:{server.port}, workers: {server.workers}",
        providers=tuple(
            ProviderFacts(name, provider.base_url or "(SDK default)", bool(provider.api_key))
            for name, provider in sorted(config.providers.items())
        ),
        pools=tuple(PoolFacts(pool.name, pool.protocol, len(pool.urls), pool.meter) for pool in config.pools),
        routes=tuple((router or Router(config)).routes()),
    )
