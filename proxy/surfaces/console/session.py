"""The operator's console login: a signed cookie, and the CSRF token bound to it.

The admin token is typed once into the login form and never stored in the browser. What
the browser keeps is `expires.nonce.signature` in an HttpOnly, SameSite=Strict cookie
scoped to /ui, signed with a key derived from the admin token. Nothing is kept on the
server, so every worker process and every replica that shares the token accepts the same
login, and changing the token logs every operator out. A form's CSRF token is an HMAC of
the session's nonce: a page from another site can neither read it nor mint one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection

COOKIE = "unigate_console"
COOKIE_PATH = "/ui"
CSRF_FIELD = "_csrf"


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int
    csrf: str


def _signing_key(admin_token: str) -> bytes:
    return hashlib.sha256(b"unigate-console-session\0" + admin_token.encode()).digest()


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def token_matches(admin_token: str, presented: str) -> bool:
    """Constant-time, whatever the lengths: both sides are hashed first."""
    expected = hashlib.sha256(admin_token.encode()).digest()
    given = hashlib.sha256(presented.encode("utf-8", errors="surrogateescape")).digest()
    return hmac.compare_digest(expected, given)


def new_session(admin_token: str, hours: float, now: float | None = None) -> tuple[str, Session]:
    """The cookie value for a fresh login, and the session it stands for."""
    key = _signing_key(admin_token)
    nonce = secrets.token_urlsafe(18)
    expires = int((now if now is not None else time.time()) + hours * 3600)
    payload = f"{expires}.{nonce}"
    return f"{payload}.{_mac(key, payload)}", Session(nonce, expires, _mac(key, f"csrf.{nonce}"))


def read_session(admin_token: str, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie proves, or None for a missing, forged or expired one."""
    if not cookie or cookie.count(".") != 2:
        return None
    expires_text, nonce, signature = cookie.split(".")
    key = _signing_key(admin_token)
    if not hmac.compare_digest(_mac(key, f"{expires_text}.{nonce}"), signature):
        return None
    try:
        expires = int(expires_text)
    except ValueError:
        return None
    if expires <= (now if now is not None else time.time()):
        return None
    return Session(nonce, expires, _mac(key, f"csrf.{nonce}"))


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)


def same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A state-changing request must come from our own pages: a browser always sends
    `Origin` on a cross-site POST, so one naming another host is refused outright."""
    origin = connection.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = connection.headers.get("host", "")
    return origin.partition("://")[2] == host
