"""What this gateway is made of right now: its worker pools' members and its routes.

Pool state (health, calls in flight, warming) lives in each worker process; with
`--workers N` the page shows the process that answered, and says so. Member URLs and
database URLs are shown with any password masked; operator vendor keys only as "set".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from proxy.gateway import Gateway
from proxy.server.redaction import masked_url
from proxy.surfaces.console.access import session_of
from proxy.surfaces.console.rendering import page


@dataclass(frozen=True, slots=True)
class MemberView:
    url: str
    state: str
    in_flight: int
    concurrency: int


@dataclass(frozen=True, slots=True)
class PoolView:
    name: str
    protocol: str
    meter: str
    models: tuple[str, ...]
    waiting: int
    members: list[MemberView]

    @property
    def tally(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for member in self.members:
            counts[member.state] = counts.get(member.state, 0) + 1
        return counts


def pool_views(gateway: Gateway) -> list[PoolView]:
    views = []
    for pool in gateway.pools.pools.values():
        members = [
            MemberView(masked_url(member.url), member.state, member.outstanding, member.concurrency)
            for member in pool.members
        ]
        views.append(
            PoolView(
                pool.config.name,
                pool.config.protocol,
                pool.meter,
                tuple(pool.config.models),
                sum(1 for waiter in pool.waiters if not waiter.done()),
                members,
            )
        )
    return views


@get("/pools", name="console_pools", include_in_schema=False)
async def pools_page(request: Request[Any, Any, Any]) -> Response[str]:
    gateway: Gateway = request.app.state.gateway
    fragment = request.headers.get("hx-request") == "true"
    return page(
        "pools_panel.html" if fragment else "pools.html",
        title="Worker pools",
        pools=pool_views(gateway),
        csrf=session_of(request).csrf,
        logged_in=True,
        current="pools",
    )


@get("/routes", name="console_routes", include_in_schema=False)
async def routes_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The same facts `unigate check` prints, for the config this process loaded."""
    gateway: Gateway = request.app.state.gateway
    settings = gateway.settings
    config = settings.config
    limits = config.limits
    limits_at = (
        f" at {masked_url(limits.redis_url)}" if limits.backend == "redis" and limits.redis_url else ""
    )
    providers = [
        (name, provider.base_url or "(SDK default)", bool(provider.api_key))
        for name, provider in sorted(config.providers.items())
    ]
    return page(
        "routes.html",
        title="Routes",
        config_path=str(settings.path) if settings.path else "built-in defaults (no config.toml found)",
        database=masked_url(settings.database_url),
        limits=f"{limits.backend}{limits_at}",
        providers=providers,
        pools=[(pool.name, pool.protocol, len(pool.urls), pool.meter) for pool in config.pools],
        routes=gateway.router.routes(),
        csrf=session_of(request).csrf,
        logged_in=True,
        current="routes",
    )
