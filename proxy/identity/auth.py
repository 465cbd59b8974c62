"""Proxy API key authentication: `Authorization: Key <key>`, `Bearer <key>`, or the bare key."""

from __future__ import annotations

from proxy.identity.keys import KeyRecord, KeyStore
from schemas.errors import Code, GatewayError

_SCHEMES = ("key ", "bearer ")
MAX_KEY_LENGTH = 512


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


async def authenticate(store: KeyStore, authorization: str | None) -> KeyRecord:
    key = presented_key(authorization)
    if key is None:
        raise GatewayError(
            Code.AUTHENTICATION, "missing API key: send 'Authorization: Key <your unigate key>'"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise GatewayError(Code.AUTHENTICATION, "invalid API key")
    record = await store.lookup(key)
    if record is None:
        raise GatewayError(Code.AUTHENTICATION, "invalid API key")
    return record
