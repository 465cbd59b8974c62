"""The usage ledger: exactly one row per request, also across a crash.

A row is written when a request starts (status `started`) and replaced when it ends, so a
`kill -9` leaves `started` rows behind; the next instance to start (or any live instance,
on its periodic sweep) marks the rows of instances that stopped beating `interrupted`.
The start row is committed before the vendor is called: a call that may cost money always
has its row.

Nothing here blocks the event loop: rows go to a thread-safe queue that one writer thread
drains in batches, one transaction each. A failing write is retried with backoff, never
dropped; `close()` flushes the queue before the database closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, replace

from proxy.accounting import budgets
from proxy.accounting.budgets import BudgetRefusal
from proxy.identity import request_ids
from proxy.storage import Database, connect

log = logging.getLogger("unigate.ledger")

_BATCH = 256
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
_INSERT = (
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
idempotent retry took the row again (see `_CLAIM`)."""
_CLAIM = (
    _VALUES + "ON CONFLICT (request_id) DO UPDATE SET status = 'started', finished_at = NULL, "
    "error_code = NULL, reserved = excluded.reserved, instance = excluded.instance "
    "WHERE usage.status != 'started' AND usage.key_id = excluded.key_id"
)
"""An idempotent request's start: a new row, or the finished row of an earlier run of the
same request taken back to `started`, keeping its counts. A row another run still holds
(`started`) is not taken: that run's final row is the one that will land."""
BEGIN_WAIT = 2.0
"""Seconds a request waits for its `started` row. A database that takes no writes (full,
locked) must not hold every answer: the row stays queued and lands once it can. Not a
budgeted call's: its reservation is the check that lets it go, so it waits for the writer's
decision (its client's own timeout ends the wait, and withdraws the reservation)."""
_DECIDING = threading.Lock()
"""Orders a reservation's two ends: the writer taking it into a transaction, and its
request withdrawing it (gone before the writer came to it)."""
WITHDRAWN = "client_disconnected"
"""The final row of a budgeted request that left while its reservation was being decided."""
_BEAT = (
    "INSERT INTO instances (id, host, pid, beat_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
    "SET host = excluded.host, pid = excluded.pid, beat_at = excluded.beat_at"
)
_STALE = """status = 'started' AND (instance IS NULL OR (
    instance != :me AND instance NOT IN (SELECT id FROM instances WHERE beat_at >= :horizon)
))"""
_STALE_HELD = f"SELECT COALESCE(SUM(reserved), 0) FROM usage WHERE key_id = keys.id AND {_STALE}"  # noqa: S608
_RELEASE = f"""
UPDATE keys SET reserved = CASE WHEN reserved > ({_STALE_HELD}) THEN reserved - ({_STALE_HELD}) ELSE 0 END
WHERE id IN (SELECT key_id FROM usage WHERE reserved > 0 AND {_STALE})
"""  # noqa: S608
_SWEEP = f"UPDATE usage SET status = 'interrupted', finished_at = :now, reserved = 0 WHERE {_STALE}"  # noqa: S608
_HOST = socket.gethostname()


def _alive(pid: int) -> bool:
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
            raise request_ids.conflict()


ADMITTED = Admission()


@dataclass(slots=True)
class _Write:
    row: UsageRow
    future: asyncio.Future[Admission] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    claim: bool = False
    reserve: float | None = None
    """Check and hold this much of the key's budget before the start row (None: no budget)."""
    settle: bool = False
    """A final row whose request held a reservation."""
    taken: bool = False
    """The writer has a transaction deciding this reservation (under `_DECIDING`)."""
    withdrawn: bool = False
    """Its request left first: the writer skips it, nothing is written or held."""

    def take(self) -> bool:
        """The writer's side: whether to apply this write (False: withdrawn)."""
        with _DECIDING:
            self.taken = not self.withdrawn
            return self.taken

    def withdraw(self) -> bool:
        """The request's side: True if the writer will now skip it; False if a transaction
        already has it (its decision may commit)."""
        with _DECIDING:
            self.withdrawn = not self.taken
            return self.withdrawn


@dataclass(slots=True)
class _Barrier:
    """Resolved once the rows queued before it are committed (`Ledger.flushed`)."""

    future: asyncio.Future[Admission]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class Ledger:
    def __init__(self, database_url: str, synchronous: str = "NORMAL") -> None:
        self._database_url = database_url
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.instance = uuid.uuid4().hex
        self.observers: list[Callable[[UsageRow], None]] = []
        """Called on the event loop with each final row (per-key token limits use it)."""
        self._next_beat = 0.0
        self._watch: Callable[[float | None], None] = lambda oldest: None

    def watch_writes(self, watch: Callable[[float | None], None]) -> None:
        """Called by the writer thread with the time the oldest row of the batch it starts
        writing was queued, then with None once that batch is committed (write lag)."""
        self._watch = watch

    def backlog(self) -> int:
        """Rows queued and not yet taken by the writer."""
        return self._queue.qsize()

    def start(self) -> None:
        connection = connect(self._database_url)
        if connection.kind == "sqlite":
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
        self._beat(connection, sweep=True)
        self._thread = threading.Thread(
            target=self._run, args=(connection,), name="unigate-ledger", daemon=True
        )
        self._thread.start()

    async def begin(self, row: UsageRow, *, claim: bool = False, reserve: float | None = None) -> Admission:
        """Write the `started` row and wait until it is committed.

        `claim`: an idempotent request, which may take back its earlier run's finished row but
        not one a run still holds. `reserve`: hold this much of the key's budget first, in the
        same transaction. Either may say no; nothing is written then."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Admission] = loop.create_future()
        write = _Write(row, future, loop, claim, reserve)
        self._queue.put(write)
        if reserve is not None:
            return await self._reserved(write, future)
        try:
            async with asyncio.timeout(BEGIN_WAIT):
                return await future  # cancelled on timeout; the writer skips a done future
        except TimeoutError:
            log.warning("the ledger takes no writes; a request goes on before its start row is stored")
            return ADMITTED

    async def _reserved(self, write: _Write, future: asyncio.Future[Admission]) -> Admission:
        """A budgeted start: no call before its reservation is committed (going on without
        one let every call of a slow database's moment past the budget). If the request
        is cancelled first, its reservation is withdrawn, or released by a final row queued
        behind it once the writer already had it."""
        try:
            try:
                async with asyncio.timeout(BEGIN_WAIT):
                    return await asyncio.shield(future)
            except TimeoutError:
                log.warning("the ledger has not decided a budget reservation yet; the call waits for it")
            return await future
        except asyncio.CancelledError:
            if not write.withdraw():
                gone = replace(write.row, status=WITHDRAWN, finished_at=time.time(), reserved=0.0)
                self._queue.put(_Write(gone, settle=True))
            raise

    def record(self, row: UsageRow, *, settle: bool = False) -> None:
        """Queue the final row; it completes the `started` row of the same request.
        `settle`: the request held a budget reservation, released as its cost is spent."""
        self._queue.put(_Write(row, settle=settle))
        for observer in self.observers:
            observer(row)

    async def flushed(self) -> None:
        """Return once every row queued so far is committed: a read of the usage table
        after a request's answer (`/v1/usage`, the console) sees that request's final row,
        which the writer may not have taken yet."""
        if self._thread is None:
            return
        loop = asyncio.get_running_loop()
        barrier = _Barrier(loop.create_future(), loop)
        self._queue.put(barrier)
        try:
            async with asyncio.timeout(BEGIN_WAIT):
                await barrier.future
        except TimeoutError:
            log.warning("the ledger takes no writes; a usage read goes on without the latest rows")

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _beat(self, connection: Database, sweep: bool) -> None:
        """Say this instance lives; mark the open rows of instances that died interrupted.

        An instance is dead when it stopped beating, or at once when it ran on this host
        and its process is gone (a restart after `kill -9` needs no wait)."""
        now = time.time()
        with connection.transaction():
            connection.execute(_BEAT, (self.instance, _HOST, os.getpid(), now))
            if sweep:
                local = connection.execute(
                    "SELECT id, pid FROM instances WHERE host = ? AND id != ?", (_HOST, self.instance)
                ).fetchall()
                for dead, pid in local:
                    if not _alive(pid):
                        connection.execute("UPDATE instances SET beat_at = 0 WHERE id = ?", (dead,))
                stale = {"me": self.instance, "horizon": now - STALE_AFTER, "now": now}
                connection.execute(_RELEASE, stale)
                connection.execute(_SWEEP, stale)
            connection.execute("DELETE FROM instances WHERE beat_at < ?", (now - 3600,))
        self._next_beat = time.monotonic() + HEARTBEAT_SECONDS

    def _run(self, connection: Database) -> None:
        stopping = False
        while not stopping:
            batch: list[_Write] = []
            barriers: list[_Barrier] = []
            try:
                item = self._queue.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    stopping = True
                    break
                if isinstance(item, _Barrier):
                    barriers.append(item)
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self._watch(min(item.row.finished_at or item.row.started_at for item in batch))
                self._write(connection, batch)
                self._watch(None)
            for barrier in barriers:
                if not barrier.loop.is_closed():
                    barrier.loop.call_soon_threadsafe(_resolve, barrier.future, ADMITTED)
            if time.monotonic() >= self._next_beat:
                try:
                    self._retrying(connection, lambda: self._beat(connection, sweep=True))
                except Exception:
                    log.exception("the ledger's heartbeat failed; trying again in %s s", HEARTBEAT_SECONDS)
                    self._next_beat = time.monotonic() + HEARTBEAT_SECONDS
        connection.close()

    def _write(self, connection: Database, batch: list[_Write]) -> None:
        """One transaction for the batch, rows in the order they came; a start row that
        claims or reserves is decided inside it, so no other writer can come between.

        A batch the database refuses for a reason retrying cannot fix (a constraint, a value
        it cannot store) is written again row by row, so one bad row never holds back the
        others; that row alone is logged whole, at ERROR, for an operator to re-enter."""
        admissions = self._committed(connection, batch)
        if admissions is None:
            admissions = []
            for item in batch:
                alone = self._committed(connection, [item])
                if alone is None:
                    log.error("ledger row refused by the database, not stored: %s", _as_json(item.row))
                    alone = [ADMITTED]
                admissions += alone
        for item, admission in zip(batch, admissions, strict=True):
            if item.future is not None and item.loop is not None and not item.loop.is_closed():
                item.loop.call_soon_threadsafe(_resolve, item.future, admission)

    def _committed(self, connection: Database, batch: list[_Write]) -> list[Admission] | None:
        """The batch's admissions once committed, retrying while the database cannot take
        writes (locked, full, unreachable); None if it refuses the rows themselves."""
        admissions: list[Admission] = []

        def write() -> None:
            admissions.clear()
            settling: dict[str, list[float]] = {}
            with connection.transaction():
                for item in batch:
                    admissions.append(self._apply(connection, item, settling))
                # in key order: two replicas' writers on Postgres lock the keys' rows in the
                # same order, so they cannot deadlock on each other's settlements
                for key_id, (cost, released) in sorted(settling.items()):
                    budgets.settle(connection, key_id, cost, released)

        try:
            self._retrying(connection, write)
        except Exception as error:
            log.warning("ledger batch refused (%s: %s)", type(error).__name__, error)
            return None
        return admissions

    def _apply(self, connection: Database, item: _Write, settling: dict[str, list[float]]) -> Admission:
        """One row. What final rows spend is summed per key in `settling` and written once per
        batch (one UPDATE per key, not per call); a reservation first writes its key's sum, so
        it sees every cost before it."""
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
            taken = connection.execute(_CLAIM if item.claim else _INSERT, (*astuple(row), self.instance))
            if item.claim and not taken.rowcount:
                if item.reserve is not None:
                    budgets.settle(connection, row.key_id, None, item.reserve)
                return Admission(in_flight=True)
            return ADMITTED
        released = budgets.held(connection, row.request_id) if item.settle else 0.0
        applied = connection.execute(_INSERT, (*astuple(row), self.instance)).rowcount
        if applied and row.key_id is not None and (row.cost or released):
            sums = settling.setdefault(row.key_id, [0.0, 0.0])
            sums[0] += row.cost or 0.0
            sums[1] += released
        return ADMITTED

    def _retrying(self, connection: Database, operation: Callable[[], None]) -> None:
        """Run `operation` until it succeeds while its failure is the database's state;
        any other failure is raised to the caller."""
        delay = 0.05
        while True:
            try:
                operation()
                return
            except connection.transient as error:
                log.warning("ledger write failed (%s); retrying", error)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _as_json(row: UsageRow) -> str:
    return json.dumps(asdict(row), default=str)


def _resolve(future: asyncio.Future[Admission], admission: Admission) -> None:
    if not future.done():
        future.set_result(admission)
