"""The ledger's group commit on the event loop (SQLite, `synchronous = NORMAL`): the rows one
loop iteration queues commit together there, and whatever cannot commit at once (a locked
database, rows still with the writer thread, FULL) goes through the writer thread, in order."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from proxy.accounting.ledger import Ledger, UsageRow
from tests.reliability.harness import usage_row


def _started(request_id: str) -> UsageRow:
    return dataclasses.replace(usage_row(request_id, "started"), attempts=0, input_tokens=0, output_tokens=0)


def _final(request_id: str) -> UsageRow:
    return dataclasses.replace(usage_row(request_id, "completed"), input_tokens=3, output_tokens=4)


def _rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT request_id, status FROM usage ORDER BY request_id"))


@contextmanager
def _ledger(path: Path, synchronous: str = "NORMAL") -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{path}", synchronous)
    ledger.start()
    try:
        yield ledger
    finally:
        ledger.close()


def test_rows_commit_on_the_loop_and_the_thread_is_handed_none(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:

        async def requests() -> None:
            for number in range(5):
                (await ledger.begin(_started(f"r{number}"))).check()
                assert (f"r{number}", "started") in _rows(path)  # committed before begin returns
                ledger.record(_final(f"r{number}"))
            await ledger.flushed()
            assert _rows(path) == [(f"r{number}", "completed") for number in range(5)]

        asyncio.run(requests())
        assert ledger._handed == 0  # every row went on the loop: no thread hand-off, no wake-up


def test_the_rows_of_one_loop_iteration_commit_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:
        assert ledger._inline is not None
        transactions: list[int] = []
        inline = ledger._inline
        opened = inline.transaction

        @contextmanager
        def counted() -> Iterator[None]:
            transactions.append(1)
            with opened():
                yield

        monkeypatch.setattr(inline, "transaction", counted)

        async def twenty_at_once() -> None:
            admissions = await asyncio.gather(*(ledger.begin(_started(f"r{n:02}")) for n in range(20)))
            for admission in admissions:
                admission.check()

        asyncio.run(twenty_at_once())
        assert len(transactions) == 1
        assert len(_rows(path)) == 20


def test_a_locked_database_never_stalls_the_loop_and_the_row_still_lands(tmp_path: Path) -> None:
    """Another writer holds the lock (another worker process, say): the loop's commit does
    not wait for it; the row goes to the writer thread, which waits, and the rows after it
    follow it there, so the final row never lands before its start row."""
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        ticks: list[int] = []

        async def ticking() -> None:
            for tick in range(5):
                ticks.append(tick)
                await asyncio.sleep(0.01)

        async def while_locked() -> None:
            started = asyncio.ensure_future(ledger.begin(_started("r1")))
            await ticking()  # the loop runs on while the row waits for the lock
            assert not started.done()
            assert _rows(path) == []
            other.execute("COMMIT")  # the lock is free: the thread writes the row
            (await started).check()
            ledger.record(_final("r1"))
            await ledger.flushed()

        asyncio.run(while_locked())
        other.close()
        assert ticks == [0, 1, 2, 3, 4]
        assert ledger._handed >= 1
        assert _rows(path) == [("r1", "completed")]


def test_with_full_synchronous_every_row_goes_through_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path, "FULL") as ledger:
        assert ledger._inline is None

        async def one() -> None:
            (await ledger.begin(_started("r1"))).check()
            ledger.record(_final("r1"))
            await ledger.flushed()

        asyncio.run(one())
        assert ledger._handed == 2
        assert _rows(path) == [("r1", "completed")]


def test_close_writes_rows_the_loop_had_not_flushed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.start()

    async def begin_then_record_without_flushing() -> None:
        (await ledger.begin(_started("r1"))).check()
        ledger.record(_final("r1"))  # queued for this iteration's flush
        ledger.close()  # before the loop ran it

    asyncio.run(begin_then_record_without_flushing())
    assert _rows(path) == [("r1", "completed")]
