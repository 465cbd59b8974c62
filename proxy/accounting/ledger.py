"""The usage ledger: exactly one row per request, also across a crash.

A row is written when a request starts (status `started`) and replaced when it ends, so a
`kill -9` leaves `started` rows behind; the next instance to start (or any live instance,
on its periodic sweep) marks the rows of instances that stopped beating `interrupted`.
The start row is committed before the vendor is called: a call that may cost money always
has its row.

Two ways a row reaches the database, both one transaction per batch:

- On the embedded SQLite with `synchronous = NORMAL` (the default), on the event loop
  itself: the rows a loop iteration queues are committed together at its end (group
  commit), on a connection of their own that never waits for a lock (`busy_timeout = 0`)
  and never checkpoints the WAL (the writer thread does, on its heartbeat). In WAL mode
  with NORMAL a commit writes to the WAL without an fsync: tens of microseconds, cheaper
  than the two thread hand-offs and loop wake-ups a row costs through the queue.
- Through the writer thread otherwise, and whenever the loop's commit cannot go at once:
  Postgres, `synchronous = FULL` (every commit an fsync), the database locked by another
  writer (another worker process, the heartbeat), a write it refuses, or rows of this
  process still waiting in the queue (rows are written in the order they came, so once one
  is queued the ones after it are queued too until the thread has caught up). The thread
  (proxy/accounting/ledger_writer.py) drains its queue in batches; a failing write is
  retried with backoff, never dropped.

On the loop, a final row does not commit alone: it waits up to `hold` seconds (`[database]
final_row_hold`) for the next start row and commits in its transaction, so a request costs
one commit, not two. A `kill -9` inside that window leaves its request `interrupted` (the
sweep's row, cost 0) instead of `completed`; a reader of the usage table (`flushed`), a
start row, the thread's path and `close()` take the held rows with them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from proxy.accounting import budgets
from proxy.accounting.ledger_rows import (
    ADMITTED,
    HEARTBEAT_SECONDS,
    WITHDRAWN,
    Admission,
    Barrier,
    UsageRow,
    Write,
    apply_write,
    deliver,
    resolve,
)
from proxy.accounting.ledger_writer import WriterThread
from proxy.observability.exchange import GATEWAY_ERROR
from proxy.storage import Database, connect
from schemas.errors import Code, GatewayError

__all__ = ["ADMITTED", "HEARTBEAT_SECONDS", "Admission", "Ledger", "UsageRow"]

log = logging.getLogger("unigate.ledger")

_BATCH = 256
BEGIN_WAIT = 2.0
"""Seconds a request waits for its `started` row. A database that takes no writes (full,
locked) must not hold every answer: the row stays queued and lands once it can. Not a
budgeted call's: its reservation is the check that lets it go, so it waits for the writer's
decision, up to `RESERVE_WAIT`."""
LATE = Admission()
"""What a start row's request is told when the thread has not written it within `BEGIN_WAIT`
(compared by identity: it goes on as admitted)."""
RESERVE_WAIT = 15.0
"""Seconds a budgeted call waits for the writer to decide its reservation before it is
refused (503 `ledger_unavailable`) and the reservation withdrawn: a database that takes no
writes must not hold budgeted calls (and their connections) for ever."""


class Ledger:
    def __init__(self, database_url: str, synchronous: str = "NORMAL", hold: float = 0.0) -> None:
        self._database_url = database_url
        self._synchronous = synchronous
        self._hold = hold
        """Seconds a final row may wait on the loop for the next start row's commit (0: none)."""
        self._release: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None
        """The timer that commits held final rows once `hold` has passed, and its loop."""
        self._writer: WriterThread | None = None
        self._inline: Database | None = None
        """The loop's own connection (SQLite, NORMAL), or None: every row goes to the thread."""
        self._inline_lock = threading.Lock()
        """One user of `_inline` at a time (a second event loop in a test, `close`)."""
        self._pending: list[Write] = []
        """Rows queued on the loop in this iteration, committed by `_flush` at its end."""
        self._flush_scheduled = False
        self._handed = 0
        """Writes handed to the thread (counted on the loop's side only)."""
        self.instance = uuid.uuid4().hex
        self.observers: list[Callable[[UsageRow], None]] = []
        """Called on the event loop with each final row (per-key token limits use it)."""
        self._watch: Callable[[float | None], None] = lambda oldest: None

    def watch_writes(self, watch: Callable[[float | None], None]) -> None:
        """Called by the writer thread with the time the oldest row of the batch it starts
        writing was queued, then with None once that batch is committed (write lag)."""
        self._watch = watch
        if self._writer is not None:
            self._writer.watch = watch

    def backlog(self) -> int:
        """Rows queued and not yet taken by a writer."""
        return (self._writer.queued() if self._writer is not None else 0) + len(self._pending)

    def start(self) -> None:
        connection = connect(self._database_url)
        if connection.kind == "sqlite":
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
        if connection.kind == "sqlite" and self._synchronous == "NORMAL":
            inline = connect(self._database_url)
            inline.execute("PRAGMA synchronous=NORMAL")
            inline.execute("PRAGMA busy_timeout=0")  # a locked database: the thread waits instead
            inline.execute("PRAGMA wal_autocheckpoint=0")  # the thread checkpoints (its beat)
            self._inline = inline
        checkpoints = self._inline is not None
        writer = WriterThread(connection, self.instance, self._transaction, checkpoints=checkpoints)
        writer.watch = self._watch
        writer.start()
        self._writer = writer

    async def begin(self, row: UsageRow, *, claim: bool = False, reserve: float | None = None) -> Admission:
        """Write the `started` row and wait until it is committed.

        `claim`: an idempotent request, which may take back its earlier run's finished row but
        not one a run still holds. `reserve`: hold this much of the key's budget first, in the
        same transaction. Either may say no; nothing is written then."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Admission] = loop.create_future()
        write = Write(row, future, loop, claim, reserve)
        self._submit(write, loop)
        if reserve is not None:
            return await self._reserved(write, future)
        # decided by this iteration's commit on the loop (no timer armed and cancelled for
        # every request), or by the thread within `BEGIN_WAIT` of its hand-over (`_hand_over`)
        admission = await future
        if admission is not LATE:
            return admission
        log.warning("the ledger takes no writes; a request goes on before its start row is stored")
        return ADMITTED

    async def _reserved(self, write: Write, future: asyncio.Future[Admission]) -> Admission:
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
            try:
                async with asyncio.timeout(max(RESERVE_WAIT - BEGIN_WAIT, 0.0)):
                    return await asyncio.shield(future)
            except TimeoutError:
                log.warning("the ledger did not decide a budget reservation in %.0f s; refused", RESERVE_WAIT)
                if not write.withdraw():  # the writer has it: its final row releases what it holds
                    self.record(
                        replace(
                            write.row,
                            status=GATEWAY_ERROR,
                            error_code=Code.LEDGER_UNAVAILABLE,
                            finished_at=time.time(),
                            reserved=0.0,
                        ),
                        settle=True,
                    )
                raise GatewayError(
                    Code.LEDGER_UNAVAILABLE,
                    "the gateway cannot check this key's budget now (its database takes no writes)",
                    retry_after=RESERVE_WAIT,
                ) from None
        except asyncio.CancelledError:
            if not write.withdraw():
                gone = replace(write.row, status=WITHDRAWN, finished_at=time.time(), reserved=0.0)
                self._submit(Write(gone, settle=True), asyncio.get_running_loop())
            raise

    def record(self, row: UsageRow, *, settle: bool = False) -> None:
        """Queue the final row; it completes the `started` row of the same request.
        `settle`: the request held a budget reservation, released as its cost is spent."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # a thread without a loop: the queue
        self._submit(Write(row, settle=settle), loop)
        for observer in self.observers:
            observer(row)

    # -- the loop's group commit -----------------------------------------------------------

    def _submit(self, write: Write, loop: asyncio.AbstractEventLoop | None) -> None:
        """Queue a write for the loop's commit, or hand it to the thread."""
        if self._inline is None or loop is None:
            self._hand_over(write, loop)
            return
        self._pending.append(write)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)

    def _hand_over(self, write: Write, here: asyncio.AbstractEventLoop | None) -> None:
        """The write to the thread; a start row's request then waits `BEGIN_WAIT` at most
        (`here`: the running loop, if any)."""
        assert self._writer is not None, "the ledger is not started"
        self._handed += 1
        self._writer.put(write)
        _bounded(write, here)

    def _flush(self, *, held: bool = True) -> None:
        """Commit the rows this loop iteration queued, in one transaction, here; hand them
        to the thread instead when that cannot go at once (see the module's docstring).
        `held`: final rows alone may wait for the next start row, `hold` seconds at most."""
        self._flush_scheduled = False
        if not self._pending:
            return
        if held and self._hold and all(write.future is None for write in self._pending):
            self._arm_release(asyncio.get_running_loop())
            return
        if self._release is not None:
            self._release[1].cancel()
            self._release = None
        batch, self._pending = self._pending, []
        admissions = None
        inline = self._inline
        if inline is not None and self._caught_up() and self._inline_lock.acquire(blocking=False):
            try:
                admissions = self._commit_at_once(inline, batch)
            finally:
                self._inline_lock.release()
        here = asyncio.get_running_loop()
        if admissions is None:
            for write in batch:
                self._hand_over(write, here)
            return
        deliver(batch, admissions, here)

    def _arm_release(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commit the held final rows `hold` seconds from now, unless a start row takes them
        first (a timer armed on a loop that has since closed never fires: armed again)."""
        if self._release is not None and self._release[0] is loop and not loop.is_closed():
            return
        self._release = (loop, loop.call_later(self._hold, self._flush_held))

    def _flush_held(self) -> None:
        self._release = None
        self._flush(held=False)

    def _commit_at_once(self, connection: Database, batch: list[Write]) -> list[Admission] | None:
        """The batch's admissions if it committed without waiting; None if it could not (the
        transaction rolled back: nothing of it was written)."""
        try:
            return self._transaction(connection, batch)
        except Exception:
            return None

    def _transaction(self, connection: Database, batch: list[Write]) -> list[Admission]:
        """The batch in one transaction, rows in the order they came, then each key's spend
        written once; its admissions (both writers' one way of writing a batch)."""
        admissions: list[Admission] = []
        settling: dict[str, list[float]] = {}
        with connection.transaction():
            for write in batch:
                admissions.append(apply_write(connection, write, settling, self.instance))
            # in key order: two replicas' writers on Postgres lock the keys' rows in the
            # same order, so they cannot deadlock on each other's settlements
            for key_id, (cost, released) in sorted(settling.items()):
                budgets.settle(connection, key_id, cost, released)
        return admissions

    async def flushed(self) -> None:
        """Return once every row queued so far is committed: a read of the usage table
        after a request's answer (`/v1/usage`, the console) sees that request's final row,
        which the writer may not have taken yet."""
        if self._writer is None:
            return
        if self._pending:
            self._flush(held=False)
        if self._caught_up():
            return  # nothing is with the thread: every row so far is committed
        loop = asyncio.get_running_loop()
        barrier = Barrier(loop.create_future(), loop)
        self._writer.put(barrier)
        try:
            async with asyncio.timeout(BEGIN_WAIT):
                await barrier.future
        except TimeoutError:
            log.warning("the ledger takes no writes; a usage read goes on without the latest rows")

    def close(self, timeout: float = 30.0) -> None:
        if self._writer is None:
            return
        if self._release is not None:
            self._release[1].cancel()  # harmless on a closed loop: the thread takes the rows
            self._release = None
        pending, self._pending = self._pending, []
        for write in pending:  # a flush the loop will not run now (or held): the thread writes them
            self._hand_over(write, None)
        self._writer.stop(timeout)
        self._writer = None
        with self._inline_lock:
            if self._inline is not None:
                self._inline.close()
                self._inline = None

    def _caught_up(self) -> bool:
        """Nothing handed to the thread is still waiting there."""
        return self._writer is None or self._handed == self._writer.done


def _bounded(write: Write, here: asyncio.AbstractEventLoop | None) -> None:
    """A start row now with the thread: its request is told `LATE` after `BEGIN_WAIT` unless
    the thread decided it first (a budgeted start bounds its own wait, `_reserved`)."""
    loop = write.loop
    if write.future is None or write.reserve is not None or loop is None or loop.is_closed():
        return
    if loop is here:
        loop.call_later(BEGIN_WAIT, resolve, write.future, LATE)
    else:
        loop.call_soon_threadsafe(loop.call_later, BEGIN_WAIT, resolve, write.future, LATE)
