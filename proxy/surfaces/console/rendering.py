"""Pages from Jinja2 templates that ship inside the package, always autoescaped, and the
headers every console response carries.

The Content-Security-Policy allows scripts, styles and connections to this origin only:
no inline script, no `eval`, no CDN, no framing. Images may also be `data:`/`blob:` URLs,
which is how the playground previews an uploaded image without sending it anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from litestar import Response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _usd(amount: float | None) -> str:
    if amount is None:
        return "-"
    return f"${amount:.6f}".rstrip("0").rstrip(".") if amount else "$0"


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("proxy.surfaces.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["when"] = _when
_environment.filters["usd"] = _usd


def render(template: str, **context: Any) -> str:
    return _environment.get_template(template).render(**context)


async def secure_headers(response: Response[Any]) -> Response[Any]:
    """`after_request` for every console route, the static files included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(template: str, status_code: int = 200, **context: Any) -> Response[str]:
    return Response(
        render(template, **context),
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )
