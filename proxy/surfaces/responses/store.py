"""Stored Responses API answers: what `store: true` keeps, scoped to the proxy key that made it.

A row holds the response object as the client got it (plus reasoning signatures, which only
the client that asked with `include` sees) and the items it was generated from: the whole
conversation so far, so `previous_response_id` needs one read, whichever vendor answered
before. Another key's id, a deleted one and one older than `[responses] retention_days` are
alike not found; the old ones are swept at most once an hour, on a write. A request retried
under the same `Idempotency-Key` has the same id, and its answer replaces the earlier one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from proxy.storage import Database, connect

SWEEP_SECONDS = 3600.0
_encode = msgspec.json.encode
_decode = msgspec.json.decode


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    model: str
    provider: str | None
    created_at: float
    response: dict[str, Any]
    items: list[dict[str, Any]]
    """The input items the response was generated from, the conversation's earlier turns first."""


class ResponseStore:
    def __init__(self, database_url: str, retention_days: float) -> None:
        self._database_url = database_url
        self._retention = retention_days * 86400.0
        self._connection: Database | None = None
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def _db(self) -> Database:
        if self._connection is None:
            self._connection = connect(self._database_url)
        return self._connection

    def _horizon(self) -> float:
        return time.time() - self._retention

    def _save(self, key_id: str, stored: StoredResponse) -> None:
        with self._lock:
            db = self._db()
            with db.transaction():
                db.execute(
                    "INSERT INTO responses (id, key_id, created_at, model, provider, response, items)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    " created_at = excluded.created_at, response = excluded.response, items = excluded.items"
                    " WHERE responses.key_id = excluded.key_id",
                    (
                        stored.id,
                        key_id,
                        stored.created_at,
                        stored.model,
                        stored.provider,
                        _encode(stored.response).decode(),
                        _encode(stored.items).decode(),
                    ),
                )
                if time.monotonic() >= self._next_sweep:
                    db.execute("DELETE FROM responses WHERE created_at < ?", (self._horizon(),))
                    self._next_sweep = time.monotonic() + SWEEP_SECONDS

    def _get(self, key_id: str, response_id: str) -> StoredResponse | None:
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT id, model, provider, created_at, response, items FROM responses"
                    " WHERE id = ? AND key_id = ? AND created_at >= ?",
                    (response_id, key_id, self._horizon()),
                )
                .fetchone()
            )
        if row is None:
            return None
        return StoredResponse(row[0], row[1], row[2], row[3], _decode(row[4]), _decode(row[5]))

    def _delete(self, key_id: str, response_id: str) -> bool:
        with self._lock:
            db = self._db()
            with db.transaction():
                rows = db.execute(
                    "DELETE FROM responses WHERE id = ? AND key_id = ? AND created_at >= ?",
                    (response_id, key_id, self._horizon()),
                )
                return rows.rowcount > 0

    async def save(self, key_id: str, stored: StoredResponse) -> None:
        await asyncio.to_thread(self._save, key_id, stored)

    async def get(self, key_id: str, response_id: str) -> StoredResponse | None:
        return await asyncio.to_thread(self._get, key_id, response_id)

    async def delete(self, key_id: str, response_id: str) -> bool:
        return await asyncio.to_thread(self._delete, key_id, response_id)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
