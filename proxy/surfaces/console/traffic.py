"""Traffic views: usage and spend over time (charts), and the live request log.

The chart page is a shell; `usage.js` asks `/ui/usage/data` for the series (JSON, the
operator's cookie) and draws it, with the same numbers in a table for screen readers.
The log's rows are a fragment that htmx polls with the filter form's values.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.params import FromQuery, QueryParameter

from proxy.accounting.usage import GROUP_COLUMNS, Grouping, LogFilter, UsageReport, UsageSeries
from proxy.surfaces.console.access import session_of
from proxy.surfaces.console.rendering import page

# `key` is the app-wide dependency that authenticates a proxy key (proxy/front_door.py):
# the log filter's `?key=` query parameter is read under another name so it never resolves to it.

WINDOWS: dict[str, int] = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
Window = Literal["1h", "24h", "7d", "30d"]


def _report(request: Request[Any, Any, Any]) -> UsageReport:
    report: UsageReport = request.app.state.usage_report
    return report


@get("/usage", name="console_usage", include_in_schema=False)
async def usage_page(request: Request[Any, Any, Any]) -> Response[str]:
    return page(
        "usage.html",
        title="Usage and spend",
        windows=list(WINDOWS),
        groups=list(GROUP_COLUMNS),
        csrf=session_of(request).csrf,
        logged_in=True,
        current="usage",
    )


@get("/usage/data", name="console_usage_data", include_in_schema=False)
async def usage_data(
    request: Request[Any, Any, Any],
    window: FromQuery[Window] = "24h",
    group: FromQuery[Grouping] = "model",
) -> UsageSeries:
    until = time.time() + 1
    return await _report(request).series(until - WINDOWS[window], until, group)


def _filter(
    key: str | None, model: str | None, provider: str | None, status: str | None, code: str | None
) -> LogFilter:
    def clean(value: str | None) -> str | None:
        return value.strip()[:200] or None if value else None

    return LogFilter(clean(key), clean(model), clean(provider), clean(status), clean(code))


@get("/log", name="console_log", include_in_schema=False)
async def log_page(
    request: Request[Any, Any, Any],
    key_id: Annotated[str | None, QueryParameter(name="key")] = None,
    model: FromQuery[str | None] = None,
    provider: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    code: FromQuery[str | None] = None,
) -> Response[str]:
    report = _report(request)
    where = _filter(key_id, model, provider, status, code)
    return page(
        "log.html",
        title="Request log",
        where=where,
        rows=await report.log(where),
        statuses=await report.statuses(),
        providers=await report.providers(),
        csrf=session_of(request).csrf,
        logged_in=True,
        current="log",
    )


@get("/log/rows", name="console_log_rows", include_in_schema=False)
async def log_rows(
    request: Request[Any, Any, Any],
    key_id: Annotated[str | None, QueryParameter(name="key")] = None,
    model: FromQuery[str | None] = None,
    provider: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    code: FromQuery[str | None] = None,
) -> Response[str]:
    rows = await _report(request).log(_filter(key_id, model, provider, status, code))
    return page("log_rows.html", rows=rows)
