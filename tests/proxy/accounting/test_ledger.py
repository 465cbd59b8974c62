"""The ledger on its own: rows go through its one writer thread, and a final row completes
the start row of the same request (one row per request)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from pathlib import Path

from proxy.accounting.ledger import Ledger, UsageRow
from tests.reliability.harness import usage_row


def _rows(path: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(path) as connection:
        query = "SELECT request_id, status, input_tokens, output_tokens FROM usage ORDER BY request_id"
        return list(connection.execute(query))


def test_a_final_row_completes_its_start_row_on_the_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.start()
    writers = [thread for thread in threading.enumerate() if thread.name == "unigate-ledger"]
    assert len(writers) == 1
    seen: list[UsageRow] = []
    ledger.observers.append(seen.append)

    async def one_request() -> None:
        start = dataclasses.replace(usage_row("r1", "started"), attempts=0, input_tokens=0, output_tokens=0)
        (await ledger.begin(start)).check()

    asyncio.run(one_request())
    assert _rows(path) == [("r1", "started", 0, 0)]  # begin returns once the start row is committed
    final = dataclasses.replace(usage_row("r1", "completed"), input_tokens=7, output_tokens=9)
    ledger.record(final)
    assert seen == [final]  # observers hear of the row at once, on the caller's thread
    ledger.close()  # the writer drains its queue before it stops
    # the final row's counts add to the start row's (zero after a plain start)
    assert not writers[0].is_alive()
    assert _rows(path) == [("r1", "completed", 7, 9)]
