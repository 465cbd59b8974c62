"""Proxy API keys: generated once, stored only as a SHA-256 hash, looked up by its prefix;
and authentication: `Authorization: Key <key>`, `Bearer <key>`, or the bare key.

A presented string is hashed before anything else touches it, so no caller text ever
reaches SQL; the indexed `hash_prefix` finds the candidate rows and the full hashes are
compared in constant time, so the database's index walk never decides a match. Lookups
are cached briefly (a revocation takes effect within `CACHE_SECONDS` in every worker).

A request's key is looked up once: the front door (proxy/front_door.py) looks up every key
a model call presents, before the limits; it leaves what it found in the ASGI scope, and
the handler's `key` dependency reads it from there instead of asking the store again. A
GET, which the front door does not count, is looked up by its `key` dependency alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from litestar.types import Scope

from proxy.storage import Database, connect
from schemas.config import LimitsConfig
from schemas.errors import Code, GatewayError

KEY_PREFIX = "ug-"
CACHE_SECONDS = 10.0
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    hash: str
    created_at: float
    revoked_at: float | None
    rpm: int | None
    tpm: int | None = None
    concurrency: int | None = None
    budget: float | None = None
    """USD this key may spend in all (proxy/accounting/budgets.py); None: no budget."""
    spent: float = 0.0
    reserved: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyLimits:
    rpm: int | None
    tpm: int | None
    concurrency: int | None


def effective_limits(record: KeyRecord, defaults: LimitsConfig) -> KeyLimits:
    """What the key is allowed: its own value, else the config default (`[limits]`); 0 (on
    a key) means no limit. Enforced by proxy/limits/."""

    def pick(own: int | None, default: int | None) -> int | None:
        value = own if own is not None else default
        return value if value else None

    return KeyLimits(
        rpm=pick(record.rpm, defaults.rpm),
        tpm=pick(record.tpm, defaults.tpm),
        concurrency=pick(record.concurrency, defaults.concurrency),
    )


_COLUMNS = "id, name, hash, created_at, revoked_at, rpm, tpm, concurrency, budget, spent, reserved"
PREFIX_LENGTH = 16


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", errors="surrogateescape")).hexdigest()


def new_key() -> tuple[str, str]:
    """(key id, full key): `ug-<id>-<secret>`; the id is public, the secret 256 bits."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"


class KeyStore:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._connection: Database | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[KeyRecord | None, float]] = {}

    def _db(self) -> Database:
        if self._connection is None:
            self._connection = connect(self._database_url)
        return self._connection

    def create(
        self,
        name: str,
        rpm: int | None = None,
        tpm: int | None = None,
        concurrency: int | None = None,
        budget: float | None = None,
    ) -> tuple[KeyRecord, str]:
        key_id, key = new_key()
        record = KeyRecord(key_id, name, hash_key(key), time.time(), None, rpm, tpm, concurrency, budget)
        with self._lock:
            self._db().execute(
                "INSERT INTO keys (id, name, hash, hash_prefix, created_at, rpm, tpm, concurrency, budget)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    record.hash,
                    record.hash[:PREFIX_LENGTH],
                    record.created_at,
                    record.rpm,
                    record.tpm,
                    record.concurrency,
                    record.budget,
                ),
            )
        return record, key

    def list(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._db().execute(f"SELECT {_COLUMNS} FROM keys ORDER BY created_at").fetchall()  # noqa: S608
        return [KeyRecord(*row) for row in rows]

    def get(self, key_id: str) -> KeyRecord | None:
        with self._lock:
            row = self._db().execute(f"SELECT {_COLUMNS} FROM keys WHERE id = ?", (key_id,)).fetchone()  # noqa: S608
        return KeyRecord(*row) if row else None

    def set_budget(self, key_id: str, budget: float | None) -> bool:
        """Set (or, with None, lift) a key's spend budget; what it spent so far still counts."""
        with self._lock:
            cursor = self._db().execute("UPDATE keys SET budget = ? WHERE id = ?", (budget, key_id))
        self._cache.clear()
        return cursor.rowcount > 0

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            cursor = self._db().execute(
                "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (time.time(), key_id)
            )
        self._cache.clear()
        return cursor.rowcount > 0

    def _fetch(self, digest: str) -> KeyRecord | None:
        """The key whose full hash equals `digest`, among those sharing its indexed prefix."""
        with self._lock:
            rows = (
                self._db()
                .execute(
                    f"SELECT {_COLUMNS} FROM keys WHERE hash_prefix = ?",  # noqa: S608
                    (digest[:PREFIX_LENGTH],),
                )
                .fetchall()
            )
        found = None
        for row in rows:
            record = KeyRecord(*row)
            if hmac.compare_digest(record.hash, digest):
                found = record
        return found

    def _verified(self, record: KeyRecord | None, digest: str) -> KeyRecord | None:
        if record is None or record.revoked_at is not None:
            return None
        return record if hmac.compare_digest(record.hash, digest) else None

    async def lookup(self, presented: str) -> KeyRecord | None:
        digest = hash_key(presented)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return self._verified(cached[0], digest)
        record = await asyncio.to_thread(self._fetch, digest)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (record, now + CACHE_SECONDS)
        return self._verified(record, digest)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# -- authentication ----------------------------------------------------------------------

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
