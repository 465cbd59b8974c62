"""The ledger on its own: a final row completes the start row of the same request (one row
per request), and rows land in the order they came, whichever writer commits them (the
event loop's group commit: test_ledger_group_commit.py)."""

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


def _started(request_id: str) -> UsageRow:
    return dataclasses.replace(usage_row(request_id, "started"), attempts=0, input_tokens=0, output_tokens=0)


def test_a_final_row_is_committed_before_the_next_start_row_returns(tmp_path: Path) -> None:
    """Rows are written in the order they were queued: the next request's `begin` returns
    only after the earlier final row is committed too."""
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.start()
    found: list[tuple[str, str, int, int]] = []

    async def two_requests() -> None:
        (await ledger.begin(_started("r1"))).check()
        ledger.record(dataclasses.replace(usage_row("r1", "completed"), input_tokens=3, output_tokens=4))
        (await ledger.begin(_started("r2"))).check()
        found.extend(_rows(path))

    try:
        asyncio.run(two_requests())
    finally:
        ledger.close()
    assert found == [("r1", "completed", 3, 4), ("r2", "started", 0, 0)]


def test_a_final_row_lands_without_another_request_and_at_close(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.start()

    async def alone() -> None:
        (await ledger.begin(_started("r1"))).check()
        ledger.record(usage_row("r1", "completed"))
        for _ in range(200):  # no other request comes
            if _rows(path)[0][1] == "completed":
                return
            await asyncio.sleep(0.05)

    async def then_close() -> None:
        (await ledger.begin(_started("r2"))).check()
        ledger.record(usage_row("r2", "completed"))
        ledger.close()  # what is still queued is written before the writer stops

    try:
        asyncio.run(alone())
        assert [row[:2] for row in _rows(path)] == [("r1", "completed")]
        asyncio.run(then_close())
    finally:
        ledger.close()
    assert [row[:2] for row in _rows(path)] == [("r1", "completed"), ("r2", "completed")]


def test_flushed_returns_once_the_queued_final_rows_are_committed(tmp_path: Path) -> None:
    """What `/v1/usage` and the console wait for before they read: the answer already sent
    is in the table."""
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.start()
    found: list[tuple[str, str]] = []

    async def request_then_read() -> None:
        (await ledger.begin(_started("r1"))).check()
        ledger.record(usage_row("r1", "completed"))
        await ledger.flushed()
        found.extend(row[:2] for row in _rows(path))

    try:
        asyncio.run(request_then_read())
    finally:
        ledger.close()
    assert found == [("r1", "completed")]


def test_a_rows_values_are_its_fields_in_the_tables_column_order() -> None:
    """`row_values` is written out by hand (`astuple` deep-copies on the request path): it
    must stay the dataclass's fields, in the order the INSERT names its columns."""
    from proxy.accounting.ledger_rows import _COLUMNS, row_values

    row = dataclasses.replace(usage_row("r1", "completed"), reserved=0.25, error_code="x", meter="tokens")
    assert row_values(row) == dataclasses.astuple(row)
    names = [field.name for field in dataclasses.fields(UsageRow)]
    assert [name.strip() for name in _COLUMNS.split(",")] == [*names, "instance"]
