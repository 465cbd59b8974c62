"""The console's routes, assembled: public pages, operator pages behind `operator_guard`,
and the static files, every response with the console's security headers."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from proxy.limits import EXEMPT_OPT
from proxy.surfaces.console import gateway_state, keys, login, playground, traffic
from proxy.surfaces.console.access import ForbiddenForm, LoginRequired, forbidden, operator_guard, to_login
from proxy.surfaces.console.rendering import secure_headers

STATIC = Path(__file__).parent / "static"


def console_handlers() -> list[ControllerRouterHandler]:
    operator = Router(
        path="/",
        route_handlers=[
            keys.keys_page,
            keys.create_key,
            keys.revoke_key,
            keys.set_budget,
            traffic.usage_page,
            traffic.usage_data,
            traffic.log_page,
            traffic.log_rows,
            gateway_state.pools_page,
            gateway_state.routes_page,
        ],
        guards=[operator_guard],
        opt={EXEMPT_OPT: True},
    )
    console = Router(
        path="/ui",
        route_handlers=[playground.playground_page, login.login_form, login.login, login.logout, operator],
        after_request=secure_headers,
        exception_handlers={LoginRequired: to_login, ForbiddenForm: forbidden},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/ui/static",
        directories=[STATIC],
        name="console_static",
        after_request=secure_headers,
        cache_control=CacheControlHeader(max_age=3600, public=True),
        opt={EXEMPT_OPT: True},
    )
    return [console, static]
