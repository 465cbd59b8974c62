"""A ledger row, what carries it to a writer and brings its admission back to the request
awaiting it (`deliver`), and the SQL that writes it: the `usage` table's insert, the
idempotent claim, a reservation decided in the row's transaction (`apply_write`), the
instances' heartbeat and the sweep of rows whose instance died (proxy/accounting/ledger.py
holds the writers that run them)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass

from proxy.accounting import budgets
from proxy.accounting.budgets import BudgetRefusal
from proxy.identity import request as requests
from proxy.storage import Database

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = 3 * HEARTBEAT_SECONDS
_COLUMNS = (
    "request_id, key_id, model, provider, status, attempts, input_tokens, output_tokens, "
    "cached_input_tokens, reasoning_tokens, inference_time, meter, cost, error_code, "
    "started_at, finished_at, reserved, instance"
)
_VALUES = f"INSERT INTO usage ({_COLUMNS}) VALUES ({', '.join('?' * 18)}) "  # noqa: S608
_ADDED = (
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "inference_time",
)
INSERT = (
    _VALUES
    + "ON CONFLICT (request_id) DO UPDATE SET "
    + ", ".join(f"{name} = usage.{name} + excluded.{name}" for name in _ADDED)
    + ", cost = CASE WHEN usage.cost IS NULL THEN excluded.cost WHEN excluded.cost IS NULL THEN usage.cost"
    " ELSE usage.cost + excluded.cost END, "
    + ", ".join(
        f"{name} = excluded.{name}"
        for name in (
            "key_id",
            "model",
            "provider",
            "status",
            "meter",
            "error_code",
            "finished_at",
            "reserved",
        )
    )
    + ", instance = excluded.instance "
    "WHERE usage.status IN ('started', 'interrupted') AND excluded.status != 'started'"
)
"""A final row completes the `started` one (or an `interrupted` one, should a sweep have
taken a slow instance for dead); any later write for the same request is a no-op. Counts
add to what the row holds: zero after a plain start, the earlier runs' usage after an
idempotent retry took the row again (see `CLAIM`)."""
CLAIM = (
    _VALUES + "ON CONFLICT (request_id) DO UPDATE SET status = 'started', finished_at = NULL, "
    "error_code = NULL, reserved = excluded.reserved, instance = excluded.instance "
    "WHERE usage.status != 'started' AND usage.key_id = excluded.key_id"
)
"""An idempotent request's start: a new row, or the finished row of an earlier run of the
same request taken back to `started`, keeping its counts. A row another run still holds
(`started`) is not taken: that run's final row is the one that will land."""
BEAT = (
    "INSERT INTO instances (id, host, pid, beat_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
    "SET host = excluded.host, pid = excluded.pid, beat_at = excluded.beat_at"
)
_STALE = """status = 'started' AND (instance IS NULL OR (
    instance != :me AND instance NOT IN (SELECT id FROM instances WHERE beat_at >= :horizon)
))"""
_STALE_HELD = f"SELECT COALESCE(SUM(reserved), 0) FROM usage WHERE key_id = keys.id AND {_STALE}"  # noqa: S608
RELEASE = f"""
UPDATE keys SET reserved = CASE WHEN reserved > ({_STALE_HELD}) THEN reserved - ({_STALE_HELD}) ELSE 0 END
WHERE id IN (SELECT key_id FROM usage WHERE reserved > 0 AND {_STALE})
"""  # noqa: S608
SWEEP = f"UPDATE usage SET status = 'interrupted', finished_at = :now, reserved = 0 WHERE {_STALE}"  # noqa: S608
HOST = socket.gethostname()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(slots=True)
class UsageRow:
    request_id: str
    key_id: str | None
    model: str | None
    provider: str | None
    status: str
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    inference_time: float
    meter: str | None
    cost: float | None
    error_code: str | None
    started_at: float
    finished_at: float | None
    reserved: float = 0.0
    """What a started row holds against its key's budget (proxy/accounting/budgets.py); 0 once final."""


def row_values(row: UsageRow) -> tuple[object, ...]:
    """The row's columns in `_COLUMNS` order (less `instance`): a flat tuple, where
    `dataclasses.astuple` would deep-copy every value on the request path."""
    return (
        row.request_id,
        row.key_id,
        row.model,
        row.provider,
        row.status,
        row.attempts,
        row.input_tokens,
        row.output_tokens,
        row.cached_input_tokens,
        row.reasoning_tokens,
        row.inference_time,
        row.meter,
        row.cost,
        row.error_code,
        row.started_at,
        row.finished_at,
        row.reserved,
    )


@dataclass(frozen=True, slots=True)
class Admission:
    """What a start row's transaction decided: go on, or why not."""

    in_flight: bool = False
    """An idempotent request whose row another run still holds."""
    refusal: BudgetRefusal | None = None

    def check(self) -> None:
        """Raise the refusal a client gets, if there is one."""
        if self.refusal is not None:
            raise self.refusal.error()
        if self.in_flight:
            raise requests.conflict()


ADMITTED = Admission()


DECIDING = threading.Lock()
"""Orders a reservation's two ends: the writer taking it into a transaction, and its
request withdrawing it (gone before the writer came to it)."""
WITHDRAWN = "client_disconnected"
"""The final row of a budgeted request that left while its reservation was being decided."""


@dataclass(slots=True)
class Write:
    row: UsageRow
    future: asyncio.Future[Admission] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    claim: bool = False
    reserve: float | None = None
    """Check and hold this much of the key's budget before the start row (None: no budget)."""
    settle: bool = False
    """A final row whose request held a reservation."""
    taken: bool = False
    """The writer has a transaction deciding this reservation (under `DECIDING`)."""
    withdrawn: bool = False
    """Its request left first: the writer skips it, nothing is written or held."""

    def take(self) -> bool:
        """The writer's side: whether to apply this write (False: withdrawn)."""
        with DECIDING:
            self.taken = not self.withdrawn
            return self.taken

    def withdraw(self) -> bool:
        """The request's side: True if the writer will now skip it; False if a transaction
        already has it (its decision may commit)."""
        with DECIDING:
            self.withdrawn = not self.taken
            return self.withdrawn


@dataclass(slots=True)
class Barrier:
    """Resolved once the rows queued before it are committed (`Ledger.flushed`)."""

    future: asyncio.Future[Admission]
    loop: asyncio.AbstractEventLoop


STOP = object()


def apply_write(
    connection: Database, item: Write, settling: dict[str, list[float]], instance: str
) -> Admission:
    """One row, inside its batch's transaction. What final rows spend is summed per key in
    `settling` and written once per batch (one UPDATE per key, not per call); a reservation
    first writes its key's sum, so it sees every cost before it."""
    row = item.row
    if row.status == "started":
        if item.reserve is not None and not item.take():
            return ADMITTED  # its request left before this: nothing is written nor held
        if item.reserve is not None:
            pending = settling.pop(row.key_id, None) if row.key_id is not None else None
            if pending is not None:
                budgets.settle(connection, row.key_id, *pending)
            refusal = budgets.reserve(connection, row.key_id, item.reserve)
            if refusal is not None:
                return Admission(refusal=refusal)
            row.reserved = item.reserve
        taken = connection.execute(CLAIM if item.claim else INSERT, (*row_values(row), instance))
        if item.claim and not taken.rowcount:
            if item.reserve is not None:
                budgets.settle(connection, row.key_id, None, item.reserve)
            return Admission(in_flight=True)
        return ADMITTED
    released = budgets.held(connection, row.request_id) if item.settle else 0.0
    applied = connection.execute(INSERT, (*row_values(row), instance)).rowcount
    if applied and row.key_id is not None and (row.cost or released):
        sums = settling.setdefault(row.key_id, [0.0, 0.0])
        sums[0] += row.cost or 0.0
        sums[1] += released
    return ADMITTED


def deliver(batch: list[Write], admissions: list[Admission], here: asyncio.AbstractEventLoop | None) -> None:
    """Each start row's admission to the request awaiting it: at once on `here`, the loop
    that wrote the batch (no wake-up: it runs its callbacks next), else through its loop."""
    for write, admission in zip(batch, admissions, strict=True):
        if write.future is None or write.loop is None or write.loop.is_closed():
            continue
        if write.loop is here:
            resolve(write.future, admission)
        else:
            write.loop.call_soon_threadsafe(resolve, write.future, admission)


def resolve(future: asyncio.Future[Admission], admission: Admission) -> None:
    if not future.done():
        future.set_result(admission)
