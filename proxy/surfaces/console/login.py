"""The operator login form: the admin token in, an HttpOnly SameSite=Strict cookie out."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect

from proxy.gateway import Gateway
from proxy.limits import EXEMPT_OPT
from proxy.surfaces.console.access import admin_token, current_session, safe_next
from proxy.surfaces.console.rendering import page
from proxy.surfaces.console.session import (
    COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    csrf_matches,
    new_session,
    token_matches,
)

_OPT = {EXEMPT_OPT: True}


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        path=COOKIE_PATH,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_page(
    request: Request[Any, Any, Any], next_path: str, error: str | None, status: int
) -> Response[str]:
    return page(
        "login.html",
        status_code=status,
        title="Operator login",
        configured=bool(admin_token(request)),
        next_path=safe_next(next_path),
        error=error,
        logged_in=False,
        csrf="",
        current="login",
    )


@get("/login", name="console_login_form", opt=_OPT, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[Any]:
    if current_session(request) is not None:
        return Redirect(safe_next(next), status_code=303)
    return _login_page(request, next or "", None, 200)


@post("/login", name="console_login", opt=_OPT, include_in_schema=False)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    next_path = str(form.get("next") or "")
    token = admin_token(request)
    if not token:
        return _login_page(request, next_path, "No admin token is configured on this gateway.", 404)
    if not token_matches(token, str(form.get("token") or "")):
        return _login_page(request, next_path, "That is not the admin token.", 401)
    gateway: Gateway = request.app.state.gateway
    hours = gateway.settings.config.ui.session_hours
    value, _ = new_session(token, hours)
    response: Response[Any] = Redirect(safe_next(next_path), status_code=303)
    response.set_cookie(_cookie(request, value, int(hours * 3600)))
    return response


@post("/logout", name="console_logout", opt=_OPT, include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """Needs the session's CSRF token, so another site cannot log an operator out either."""
    session = current_session(request)
    form = await request.form()
    response: Response[Any] = Redirect("/ui/login", status_code=303)
    if session is not None and csrf_matches(session, form.get(CSRF_FIELD)):
        response.set_cookie(_cookie(request, "", 0))
    return response
