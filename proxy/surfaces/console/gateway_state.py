"""What this gateway is made of right now: its worker pools' members and its routes.

Pool state (health, calls in flight, warming) lives in each worker process; with
`--workers N` the page shows the process that answered, and says so. Member URLs and
database URLs are shown with any password masked; operator vendor keys only as "set".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from proxy.config_check import config_facts
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
    """What `unigate check` prints (the same code: proxy/config_check.py), for the config
    and the router this process runs."""
    gateway: Gateway = request.app.state.gateway
    return page(
        "routes.html",
        title="Routes",
        facts=config_facts(gateway.settings, gateway.router),
        csrf=session_of(request).csrf,
        logged_in=True,
        current="routes",
    )
