"""The ledger's writer thread: the rows the event loop cannot commit at once (Postgres,
`synchronous = FULL`, a locked database, rows already queued), in the order they came, in
batches, each batch one transaction; a failing write retried with backoff, never dropped,
a row the database refuses logged whole. It also beats for its instance and sweeps the rows
of instances that died (proxy/accounting/ledger.py holds the ledger that hands it rows)."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from proxy.accounting.ledger_rows import (
    ADMITTED,
    BEAT,
    HEARTBEAT_SECONDS,
    HOST,
    RELEASE,
    STALE_AFTER,
    STOP,
    SWEEP,
    Admission,
    Barrier,
    UsageRow,
    Write,
    alive,
    deliver,
    resolve,
)
from proxy.storage import Database

log = logging.getLogger("unigate.ledger")

_BATCH = 256
Transaction = Callable[[Database, list[Write]], list[Admission]]
"""Writes a batch in one transaction and returns its admissions (the ledger's one way)."""


class WriterThread:
    __slots__ = (
        "_checkpoints",
        "_connection",
        "_next_beat",
        "_queue",
        "_thread",
        "_transaction",
        "done",
        "instance",
        "watch",
    )

    def __init__(
        self, connection: Database, instance: str, transaction: Transaction, *, checkpoints: bool
    ) -> None:
        self._connection = connection
        self._transaction = transaction
        self._checkpoints = checkpoints
        """Checkpoint the WAL on each beat: the loop's own connection never does."""
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="unigate-ledger", daemon=True)
        self._next_beat = 0.0
        self.instance = instance
        self.done = 0
        """Writes committed or given up on (counted by the thread only)."""
        self.watch: Callable[[float | None], None] = lambda oldest: None
        """Called with the time the oldest row of the batch it starts writing was queued, then
        with None once that batch is committed (the write lag metric)."""

    def start(self) -> None:
        self.beat(sweep=True)
        self._thread.start()

    def put(self, item: Write | Barrier) -> None:
        self._queue.put(item)

    def queued(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float) -> None:
        self._queue.put(STOP)
        self._thread.join(timeout)

    def beat(self, sweep: bool) -> None:
        """Say this instance lives; mark the open rows of instances that died interrupted.

        An instance is dead when it stopped beating, or at once when it ran on this host
        and its process is gone (a restart after `kill -9` needs no wait)."""
        connection = self._connection
        now = time.time()
        with connection.transaction():
            connection.execute(BEAT, (self.instance, HOST, os.getpid(), now))
            if sweep:
                local = connection.execute(
                    "SELECT id, pid FROM instances WHERE host = ? AND id != ?", (HOST, self.instance)
                ).fetchall()
                for dead, pid in local:
                    if not alive(pid):
                        connection.execute("UPDATE instances SET beat_at = 0 WHERE id = ?", (dead,))
                stale = {"me": self.instance, "horizon": now - STALE_AFTER, "now": now}
                connection.execute(RELEASE, stale)
                connection.execute(SWEEP, stale)
            connection.execute("DELETE FROM instances WHERE beat_at < ?", (now - 3600,))
        if self._checkpoints:
            # the loop's connection never checkpoints (it must not stall the loop): here, off
            # it, without waiting for readers or writers
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._next_beat = time.monotonic() + HEARTBEAT_SECONDS

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Write] = []
            barriers: list[Barrier] = []
            try:
                item = self._queue.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                item = None
            while item is not None:
                if item is STOP:
                    stopping = True
                    break
                if isinstance(item, Barrier):
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
                self.watch(min(item.row.finished_at or item.row.started_at for item in batch))
                self._write(batch)
                self.watch(None)
                self.done += len(batch)
            for barrier in barriers:
                if not barrier.loop.is_closed():
                    barrier.loop.call_soon_threadsafe(resolve, barrier.future, ADMITTED)
            if time.monotonic() >= self._next_beat:
                try:
                    self._retrying(lambda: self.beat(sweep=True))
                except Exception:
                    log.exception("the ledger's heartbeat failed; trying again in %s s", HEARTBEAT_SECONDS)
                    self._next_beat = time.monotonic() + HEARTBEAT_SECONDS
        self._connection.close()

    def _write(self, batch: list[Write]) -> None:
        """One transaction for the batch, rows in the order they came; a start row that
        claims or reserves is decided inside it, so no other writer can come between.

        A batch the database refuses for a reason retrying cannot fix (a constraint, a value
        it cannot store) is written again row by row, so one bad row never holds back the
        others; that row alone is logged whole, at ERROR, for an operator to re-enter."""
        admissions = self._committed(batch)
        if admissions is None:
            admissions = []
            for item in batch:
                alone = self._committed([item])
                if alone is None:
                    log.error("ledger row refused by the database, not stored: %s", _as_json(item.row))
                    alone = [ADMITTED]
                admissions += alone
        deliver(batch, admissions, None)

    def _committed(self, batch: list[Write]) -> list[Admission] | None:
        """The batch's admissions once committed, retrying while the database cannot take
        writes (locked, full, unreachable); None if it refuses the rows themselves."""
        admissions: list[Admission] = []

        def write() -> None:
            admissions[:] = self._transaction(self._connection, batch)

        try:
            self._retrying(write)
        except Exception as error:
            log.warning("ledger batch refused (%s: %s)", type(error).__name__, error)
            return None
        return admissions

    def _retrying(self, operation: Callable[[], None]) -> None:
        """Run `operation` until it succeeds while its failure is the database's state;
        any other failure is raised to the caller."""
        delay = 0.05
        while True:
            try:
                operation()
                return
            except self._connection.transient as error:
                log.warning("ledger write failed (%s); retrying", error)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _as_json(row: UsageRow) -> str:
    return json.dumps(asdict(row), default=str)
