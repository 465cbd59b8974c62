"""The usage ledger: one row per request, written off the event loop by one writer thread.

`record()` only appends to a thread-safe queue (no I/O on the event loop). The writer
drains the queue in batches, one transaction each; a failing write is retried with
backoff and never dropped; `close()` flushes what is queued before the database closes.
`INSERT OR REPLACE` on the request id keeps one row per request.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import astuple, dataclass

from proxy.storage import connect

log = logging.getLogger("unigate.ledger")

_BATCH = 256
_COLUMNS = (
    "request_id, key_id, model, provider, status, attempts, input_tokens, output_tokens, "
    "cached_input_tokens, reasoning_tokens, inference_time, meter, cost, error_code, "
    "started_at, finished_at"
)
_INSERT = f"INSERT OR REPLACE INTO usage ({_COLUMNS}) VALUES ({', '.join('?' * 16)})"  # noqa: S608


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


class Ledger:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        connection = connect(self._database_url)
        self._thread = threading.Thread(
            target=self._run, args=(connection,), name="unigate-ledger", daemon=True
        )
        self._thread.start()

    def record(self, row: UsageRow) -> None:
        self._queue.put(row)

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _run(self, connection: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[object, ...]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, UsageRow)
                    batch.append(astuple(item))
                if stopping or len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(connection, batch)
        connection.close()

    def _write(self, connection: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
        delay = 0.05
        while True:
            try:
                with connection:
                    connection.execute("BEGIN IMMEDIATE")
                    connection.executemany(_INSERT, batch)
                return
            except sqlite3.Error as error:
                log.warning("ledger write of %d rows failed (%s); retrying", len(batch), error)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
