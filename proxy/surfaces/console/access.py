"""Who may see an operator page, and what a state-changing form must carry.

Every operator route runs `operator_guard` before its handler: no valid login cookie, and
the browser is sent to the login page (an htmx request is told so with `HX-Redirect`, so a
fragment never becomes a login form). A POST must then pass `checked_form`: our own
origin, and the CSRF token of the session that sent it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect

from proxy.gateway import Gateway
from proxy.surfaces.console.rendering import page
from proxy.surfaces.console.session import (
    COOKIE,
    CSRF_FIELD,
    Session,
    csrf_matches,
    read_session,
    same_origin,
)


class LoginRequired(Exception):
    """The request has no valid operator login."""


class ForbiddenForm(Exception):
    """A state-changing request without our origin or its session's CSRF token."""


def admin_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    gateway: Gateway = connection.app.state.gateway
    return gateway.settings.config.admin.token


def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> Session | None:
    token = admin_token(connection)
    if not token:
        return None
    return read_session(token, connection.cookies.get(COOKIE))


def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    session = current_session(connection)
    if session is None:
        raise LoginRequired
    connection.scope["state"]["console_session"] = session


def session_of(request: Request[Any, Any, Any]) -> Session:
    """The session `operator_guard` proved for this request."""
    session: Session = request.scope["state"]["console_session"]
    return session


async def checked_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    form = await request.form()
    if not same_origin(request) or not csrf_matches(session_of(request), form.get(CSRF_FIELD)):
        raise ForbiddenForm
    return form


def safe_next(target: str | None) -> str:
    """Only a console path may be where a login returns to (no open redirect)."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/keys"


def to_login(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    if request.headers.get("hx-request") == "true":
        page_path = urlsplit(request.headers.get("hx-current-url", "")).path
        login = f"/ui/login?next={quote(safe_next(page_path))}"
        return Response("", status_code=200, headers={"HX-Redirect": login})
    target = request.url.path if request.method == "GET" else None
    return Redirect(f"/ui/login?next={quote(safe_next(target))}", status_code=303)


def forbidden(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return page(
        "message.html",
        status_code=403,
        title="Form refused",
        message="This form did not come from this console's own page (missing or stale CSRF token). "
        "Reload the page and try again.",
        logged_in=True,
        csrf="",
        current="",
    )
