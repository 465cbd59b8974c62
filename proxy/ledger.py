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
import logging
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import astuple, dataclass

from proxy.storage import connect

log = logging.getLogger("unigate.ledger")

_BATCH = 256
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = 3 * HEARTBEAT_SECONDS
_COLUMNS = (
    "request_id, key_id, model, provider, status, attempts, input_tokens, output_tokens, "
    "cached_input_tokens, reasoning_tokens, inference_time, meter, cost, error_code, "
    "started_at, finished_at, instance"
)
_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS.split(", ")[1:])
_INSERT = (
    f"INSERT INTO usage ({_COLUMNS}) VALUES ({', '.join('?' * 17)}) "  # noqa: S608
    f"ON CONFLICT (request_id) DO UPDATE SET {_UPDATES} "
    "WHERE usage.status IN ('started', 'interrupted') AND excluded.status != 'started'"
)
"""A final row replaces the `started` one (or an `interrupted` one, should a sweep have
taken a slow instance for dead); any later write for the same request is a no-op."""
BEGIN_WAIT = 2.0
"""Seconds a request waits for its `started` row. A database that takes no writes (full,
locked) must not hold every answer: the row stays queued and lands once it can."""
_BEAT = "INSERT OR REPLACE INTO instances (id, host, pid, beat_at) VALUES (?, ?, ?, ?)"
_SWEEP = """
UPDATE usage SET status = 'interrupted', finished_at = ?
WHERE status = 'started' AND instance IS NOT ? AND (
    instance IS NULL
    OR instance NOT IN (SELECT id FROM instances WHERE beat_at >= ?)
)
"""
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
    model: str
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


_STOP = object()
_Item = tuple[UsageRow, asyncio.Future[None] | None, asyncio.AbstractEventLoop | None]


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

    def start(self) -> None:
        connection = connect(self._database_url)
        connection.execute(f"PRAGMA synchronous={self._synchronous}")
        self._beat(connection, sweep=True)
        self._thread = threading.Thread(
            target=self._run, args=(connection,), name="unigate-ledger", daemon=True
        )
        self._thread.start()

    async def begin(self, row: UsageRow) -> None:
        """Write the `started` row and wait until it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((row, future, loop))
        try:
            async with asyncio.timeout(BEGIN_WAIT):
                await future  # cancelled on timeout; the writer skips a done future
        except TimeoutError:
            log.warning("the ledger takes no writes; a request goes on before its start row is stored")

    def record(self, row: UsageRow) -> None:
        """Queue the final row; it replaces the `started` row of the same request."""
        self._queue.put((row, None, None))
        for observer in self.observers:
            observer(row)

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _beat(self, connection: sqlite3.Connection, sweep: bool) -> None:
        """Say this instance lives; mark the open rows of instances that died interrupted.

        An instance is dead when it stopped beating, or at once when it ran on this host
        and its process is gone (a restart after `kill -9` needs no wait)."""
        now = time.time()
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(_BEAT, (self.instance, _HOST, os.getpid(), now))
            if sweep:
                local = connection.execute(
                    "SELECT id, pid FROM instances WHERE host = ? AND id != ?", (_HOST, self.instance)
                ).fetchall()
                for dead, pid in local:
                    if not _alive(pid):
                        connection.execute("UPDATE instances SET beat_at = 0 WHERE id = ?", (dead,))
                connection.execute(_SWEEP, (now, self.instance, now - STALE_AFTER))
            connection.execute("DELETE FROM instances WHERE beat_at < ?", (now - 3600,))
        self._next_beat = time.monotonic() + HEARTBEAT_SECONDS

    def _run(self, connection: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            batch: list[_Item] = []
            try:
                item = self._queue.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self._write(connection, batch)
            if time.monotonic() >= self._next_beat:
                self._retrying(lambda: self._beat(connection, sweep=True))
        connection.close()

    def _write(self, connection: sqlite3.Connection, batch: list[_Item]) -> None:
        rows = [(*astuple(row), self.instance) for row, _, _ in batch]

        def write() -> None:
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(_INSERT, rows)

        self._retrying(write)
        for _, future, loop in batch:
            if future is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)

    def _retrying(self, operation: object) -> None:
        delay = 0.05
        while True:
            try:
                operation()  # type: ignore[operator]
                return
            except sqlite3.Error as error:
                log.warning("ledger write failed (%s); retrying", error)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
