"""Proxy API keys: generated once, stored only as a SHA-256 hash, looked up by its prefix.

A presented string is hashed before anything else touches it, so no caller text ever
reaches SQL; the indexed `hash_prefix` finds the candidate rows and the full hashes are
compared in constant time, so the database's index walk never decides a match. Lookups
are cached briefly (a revocation takes effect within `CACHE_SECONDS` in every worker).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from proxy.storage import Database, connect

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
