"""Proxy API key authentication: `Authorization: Key <key>`, `Bearer <key>`, or the bare key.

A request's key is looked up once. The limit middleware (proxy/limits/middleware.py) runs
first and looks up every key a model call presents; it leaves what it found in the ASGI
scope, and the handler's `authenticate` reads it from there instead of asking the store
again. A GET, which the middleware does not count, is looked up by the handler alone.
"""

from __future__ import annotations

from typing import Any

from litestar.types import Scope

from proxy.identity.keys import KeyRecord, KeyStore
from schemas.errors import Code, GatewayError

_SCHEMES = ("key ", "bearer ")
MAX_KEY_LENGTH = 512
_LOOKED_UP = "unigate.looked_up_keys"
"""scope["state"][_LOOKED_UP]: presented key → its record (None: not a valid key)."""
_AUTHENTICATED = "unigate.authenticated_key"
"""scope["state"][_AUTHENTICATED]: the record the request was authenticated (or limited) as."""


def presented_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    value = authorization.strip()
    lowered = value[:7].lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            value = value[len(scheme) :].strip()
            break
    return value or None


async def lookup(store: KeyStore, key: str, scope: Scope | None = None) -> KeyRecord | None:
    """The key's record, asked of the store at most once per request (`scope` given)."""
    if scope is None:
        return await store.lookup(key)
    looked_up: dict[str, KeyRecord | None] = _state(scope).setdefault(_LOOKED_UP, {})
    if key in looked_up:
        return looked_up[key]
    record = await store.lookup(key)
    looked_up[key] = record
    return record


def _state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})


async def authenticate(store: KeyStore, authorization: str | None, scope: Scope | None = None) -> KeyRecord:
    key = presented_key(authorization)
    if key is None:
        raise GatewayError(
            Code.AUTHENTICATION, "missing API key: send 'Authorization: Key <your unigate key>'"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise GatewayError(Code.AUTHENTICATION, "invalid API key")
    record = await lookup(store, key, scope)
    if record is None:
        raise GatewayError(Code.AUTHENTICATION, "invalid API key")
    if scope is not None:
        mark_authenticated(scope, record)
    return record


def mark_authenticated(scope: Scope, record: KeyRecord) -> None:
    """Name the key this request acts as: its handler's `authenticate`, or the limit
    middleware for the key whose limit refused it (the handler never ran then)."""
    _state(scope)[_AUTHENTICATED] = record


def authenticated(scope: Scope) -> KeyRecord | None:
    """The key this request acts as: the one marked, else the only valid key the limit
    middleware found (a body guard refused the request before its handler authenticated
    it); None for a request that presented no valid key. Its refusal's ledger row is
    written for this key (proxy/accounting/refusals.py)."""
    state = scope.get("state") or {}
    marked = state.get(_AUTHENTICATED)
    if isinstance(marked, KeyRecord):
        return marked
    found = {record.id: record for record in (state.get(_LOOKED_UP) or {}).values() if record is not None}
    return next(iter(found.values())) if len(found) == 1 else None
