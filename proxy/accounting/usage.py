"""Read-only questions over the ledger: a key's totals, traffic over time, the latest rows.

The admin API (`/admin/keys/{id}/usage`, `/v1/usage`) and the console's usage and log
views ask the same questions, so the SQL lives here once. Every query runs off the event
loop, on a connection of its own (never the ledger writer's), serialised by a lock: the
answers are for people and dashboards, not the hot path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

from proxy.accounting.refusals import NOT_CALLS
from proxy.storage import Database, connect

Grouping = Literal["key", "model", "provider"]
GROUP_COLUMNS: dict[Grouping, str] = {"key": "key_id", "model": "model", "provider": "provider"}
"""What a series may be split by, and the ledger column it reads (never a caller's text)."""
MAX_BUCKETS = 500
MAX_LOG_ROWS = 500
_LIKE_ESCAPE = str.maketrans({"!": "!!", "%": "!%", "_": "!_"})
_IS_CALL = f"status NOT IN ({', '.join(repr(status) for status in NOT_CALLS)})"
"""A row of a call (sent to a vendor or worker), not of a refusal (proxy/accounting/refusals.py)."""


class UsageSummary(msgspec.Struct):
    key_id: str
    since: float
    until: float
    requests: int
    """Calls: requests the gateway sent on to a vendor or worker (refusals not counted)."""
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost: float
    by_status: dict[str, int]
    """Every row by status, refusals (`refused`, `gateway_error`) included."""
    refused: int = 0
    """Requests the gateway answered itself before any call: a limit, a budget, a bad body..."""
    refused_by_code: dict[str, int] = msgspec.field(default_factory=dict)
    """Those refusals by the code they were answered with (`rate_limited`, ...)."""


class SeriesPoint(msgspec.Struct):
    bucket: float
    """Unix time the bucket starts at."""
    group: str
    requests: int
    """Calls (refusals not counted)."""
    input_tokens: int
    output_tokens: int
    cost: float
    refused: int = 0
    """Requests refused before any call."""


class UsageSeries(msgspec.Struct):
    since: float
    until: float
    bucket_seconds: int
    group_by: str
    points: list[SeriesPoint]


class LogRow(msgspec.Struct):
    request_id: str
    key_id: str | None
    model: str | None
    """None for a refusal that came before the request named its model."""
    provider: str | None
    status: str
    error_code: str | None
    attempts: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    started_at: float
    duration: float | None
    """Seconds from start to finish; None while the call is in flight."""


class LogFilter(msgspec.Struct, frozen=True):
    key_id: str | None = None
    model: str | None = None
    """A part of the model id (case-sensitive)."""
    provider: str | None = None
    status: str | None = None
    error_code: str | None = None
    limit: int = 100


def bucket_for(since: float, until: float) -> int:
    """A bucket width that gives at most MAX_BUCKETS points over the window, in round units."""
    span = max(until - since, 1.0)
    for width in (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400):
        if span / width <= MAX_BUCKETS:
            return width
    return int(span // MAX_BUCKETS) + 1


class UsageReport:
    def __init__(self, database_url: str, settled: Callable[[], Awaitable[None]] | None = None) -> None:
        """`settled`: awaited before each read, so it sees the final rows of answers already
        sent, which the ledger's writer thread may not have taken yet (`Ledger.flushed`)."""
        self._database_url = database_url
        self._settled = settled
        self._connection: Database | None = None
        self._lock = threading.Lock()

    async def _settle(self) -> None:
        if self._settled is not None:
            await self._settled()

    def _database(self) -> Database:
        if self._connection is None:
            self._connection = connect(self._database_url)
        return self._connection

    def _summary(self, key_id: str, since: float, until: float) -> UsageSummary:
        with self._lock:
            database = self._database()
            rows = database.execute(
                "SELECT status, COUNT(*), SUM(input_tokens), SUM(output_tokens),"
                " SUM(cached_input_tokens), SUM(reasoning_tokens), SUM(COALESCE(cost, 0)) FROM usage"
                " WHERE key_id = ? AND started_at >= ? AND started_at < ? GROUP BY status",
                (key_id, since, until),
            ).fetchall()
            refusals = database.execute(
                "SELECT error_code, COUNT(*) FROM usage WHERE key_id = ? AND started_at >= ?"  # noqa: S608
                f" AND started_at < ? AND NOT {_IS_CALL} GROUP BY error_code",
                (key_id, since, until),
            ).fetchall()
        calls = [row for row in rows if row[0] not in NOT_CALLS]
        totals = [sum(row[column] or 0 for row in calls) for column in range(1, 7)]
        return UsageSummary(
            key_id=key_id,
            since=since,
            until=until,
            requests=int(totals[0]),
            input_tokens=int(totals[1]),
            output_tokens=int(totals[2]),
            cached_input_tokens=int(totals[3]),
            reasoning_tokens=int(totals[4]),
            cost=round(float(totals[5]), 10),
            by_status={row[0]: row[1] for row in rows},
            refused=sum(int(row[1]) for row in refusals),
            refused_by_code={row[0] or "": int(row[1]) for row in refusals},
        )

    async def summary(self, key_id: str, since: float | None, until: float | None) -> UsageSummary:
        end = until if until is not None else time.time() + 1
        await self._settle()
        return await asyncio.to_thread(self._summary, key_id, since or 0.0, end)

    def _series(self, since: float, until: float, width: int, group_by: Grouping) -> UsageSeries:
        column = GROUP_COLUMNS[group_by]
        with self._lock:
            database = self._database()
            # both truncate toward zero for the positive times a ledger holds
            bucket = (
                "FLOOR(started_at / ?)"
                if database.kind == "postgresql"
                else "CAST(started_at / ? AS INTEGER)"
            )
            rows = database.execute(
                f"SELECT {bucket} AS bucket, {column}, SUM(CASE WHEN {_IS_CALL} THEN 1 ELSE 0 END),"  # noqa: S608
                " SUM(input_tokens), SUM(output_tokens), SUM(COALESCE(cost, 0)),"
                f" SUM(CASE WHEN {_IS_CALL} THEN 0 ELSE 1 END)"
                " FROM usage WHERE started_at >= ? AND started_at < ?"
                f" GROUP BY bucket, {column} ORDER BY bucket",
                (width, since, until),
            ).fetchall()
        points = [
            SeriesPoint(
                bucket=float(row[0]) * width,
                group=row[1] if row[1] is not None else "(none)",
                requests=int(row[2] or 0),
                input_tokens=int(row[3] or 0),
                output_tokens=int(row[4] or 0),
                cost=round(float(row[5] or 0), 10),
                refused=int(row[6] or 0),
            )
            for row in rows
        ]
        return UsageSeries(since, until, width, group_by, points)

    async def series(self, since: float, until: float, group_by: Grouping) -> UsageSeries:
        """Requests, tokens and spend per time bucket and per key, model or provider."""
        await self._settle()
        return await asyncio.to_thread(self._series, since, until, bucket_for(since, until), group_by)

    def _log(self, where: LogFilter) -> list[LogRow]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("key_id", where.key_id),
            ("provider", where.provider),
            ("status", where.status),
            ("error_code", where.error_code),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.model:
            clauses.append("model LIKE ? ESCAPE '!'")
            params.append(f"%{where.model.translate(_LIKE_ESCAPE)}%")
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(1, min(where.limit, MAX_LOG_ROWS)))
        with self._lock:
            rows = (
                self._database()
                .execute(
                    "SELECT request_id, key_id, model, provider, status, error_code, attempts, input_tokens,"  # noqa: S608
                    f" output_tokens, cost, started_at, finished_at FROM usage{condition}"
                    " ORDER BY started_at DESC LIMIT ?",
                    params,
                )
                .fetchall()
            )
        return [
            LogRow(
                request_id=row[0],
                key_id=row[1],
                model=row[2],
                provider=row[3],
                status=row[4],
                error_code=row[5],
                attempts=int(row[6]),
                input_tokens=int(row[7]),
                output_tokens=int(row[8]),
                cost=row[9],
                started_at=float(row[10]),
                duration=None if row[11] is None else max(float(row[11]) - float(row[10]), 0.0),
            )
            for row in rows
        ]

    async def log(self, where: LogFilter) -> list[LogRow]:
        """The latest ledger rows, newest first, narrowed by `where`."""
        await self._settle()
        return await asyncio.to_thread(self._log, where)

    def _distinct(self, column: str) -> list[str]:
        with self._lock:
            rows = (
                self._database()
                .execute(f"SELECT DISTINCT {column} FROM usage WHERE {column} IS NOT NULL ORDER BY {column}")  # noqa: S608
                .fetchall()
            )
        return [row[0] for row in rows]

    async def statuses(self) -> list[str]:
        await self._settle()
        return await asyncio.to_thread(self._distinct, "status")

    async def providers(self) -> list[str]:
        await self._settle()
        return await asyncio.to_thread(self._distinct, "provider")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
