"""The ledger's group commit on the event loop (SQLite, `synchronous = NORMAL`): the rows one
loop iteration queues commit together there, and whatever cannot commit at once (a locked
database, rows still with the writer thread, FULL) goes through the writer thread, in order."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy.accounting import ledger as ledger_module
from proxy.accounting.ledger import ADMITTED, Ledger, UsageRow
from tests.reliability.harness import usage_row


def _started(request_id: str) -> UsageRow:
    return dataclasses.replace(usage_row(request_id, "started"), attempts=0, input_tokens=0, output_tokens=0)


def _final(request_id: str) -> UsageRow:
    return dataclasses.replace(usage_row(request_id, "completed"), input_tokens=3, output_tokens=4)


def _rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT request_id, status FROM usage ORDER BY request_id"))


@contextmanager
def _ledger(path: Path, synchronous: str = "NORMAL", hold: float = 0.0) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{path}", synchronous, hold)
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


@contextmanager
def _counting(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The rows of each transaction the loop's connection commits, by request id and status."""
    assert ledger._inline is not None
    transactions: list[list[str]] = []
    transaction = ledger._transaction

    def counted(connection: Any, batch: list[Any]) -> Any:
        transactions.append([f"{write.row.request_id}:{write.row.status}" for write in batch])
        return transaction(connection, batch)

    monkeypatch.setattr(ledger, "_transaction", counted)
    yield transactions


def test_a_final_row_is_held_for_the_next_start_row_and_commits_in_its_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path, hold=30.0) as ledger, _counting(ledger, monkeypatch) as transactions:

        async def one_after_another() -> None:
            for number in range(3):
                (await ledger.begin(_started(f"r{number}"))).check()
                ledger.record(_final(f"r{number}"))
                await asyncio.sleep(0)  # the iteration's flush runs: the final row is held
                assert (f"r{number}", "started") in _rows(path)
                assert ledger.backlog() == 1  # held rows are the ledger's backlog, as metrics show it
            await ledger.flushed()  # a reader of the table takes the held row with it

        asyncio.run(one_after_another())
        assert transactions == [
            ["r0:started"],
            ["r0:completed", "r1:started"],  # in the order they came: the final row first
            ["r1:completed", "r2:started"],
            ["r2:completed"],
        ]
        assert _rows(path) == [(f"r{number}", "completed") for number in range(3)]


def test_a_held_final_row_commits_alone_once_the_hold_has_passed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path, hold=0.05) as ledger:

        async def lone_request() -> None:
            (await ledger.begin(_started("r1"))).check()
            ledger.record(_final("r1"))
            await asyncio.sleep(0.01)
            assert _rows(path) == [("r1", "started")]  # held: no commit of its own yet
            await asyncio.sleep(0.2)
            assert _rows(path) == [("r1", "completed")]  # the hold passed: committed without a start row
            assert ledger.backlog() == 0

        asyncio.run(lone_request())
        assert ledger._handed == 0


def test_held_rows_of_a_loop_that_closed_are_written_by_close_or_the_next_loop(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path, hold=30.0) as ledger:

        async def first_loop() -> None:
            (await ledger.begin(_started("r1"))).check()
            ledger.record(_final("r1"))
            await asyncio.sleep(0)

        asyncio.run(first_loop())  # its timer dies with it; the row is still held
        assert _rows(path) == [("r1", "started")]

        async def second_loop() -> None:
            ledger._hold = 0.01
            ledger.record(_final("r2"))  # a final row on a new loop arms a timer there
            await asyncio.sleep(0.2)

        asyncio.run(second_loop())
        assert _rows(path) == [("r1", "completed"), ("r2", "completed")]
    path2 = tmp_path / "closing.db"
    ledger = Ledger(f"sqlite:///{path2}", hold=30.0)
    ledger.start()

    async def held_then_closed() -> None:
        (await ledger.begin(_started("r1"))).check()
        ledger.record(_final("r1"))
        await asyncio.sleep(0)

    asyncio.run(held_then_closed())
    ledger.close()
    assert _rows(path2) == [("r1", "completed")]


def test_no_hold_commits_every_final_row_at_the_end_of_its_iteration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger, _counting(ledger, monkeypatch) as transactions:

        async def one() -> None:
            (await ledger.begin(_started("r1"))).check()
            ledger.record(_final("r1"))
            await asyncio.sleep(0)
            assert _rows(path) == [("r1", "completed")]

        asyncio.run(one())
        assert transactions == [["r1:started"], ["r1:completed"]]


def test_a_start_row_committed_on_the_loop_arms_no_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:

        def no_timeout(delay: float | None) -> Any:
            raise AssertionError("a timer was armed for a row the loop commits")

        async def requests() -> None:
            monkeypatch.setattr(asyncio, "timeout", no_timeout)
            for number in range(3):
                (await ledger.begin(_started(f"r{number}"))).check()
                ledger.record(_final(f"r{number}"))
            monkeypatch.undo()
            await ledger.flushed()

        asyncio.run(requests())
        assert _rows(path) == [(f"r{number}", "completed") for number in range(3)]


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_a_start_row_the_thread_cannot_write_lets_its_request_go_on_after_begin_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str
) -> None:
    """The database stays locked past `BEGIN_WAIT`: the request goes on (admitted), the row
    stays with the thread and lands once the lock is gone; a row the loop could not commit
    (NORMAL) and one that went to the thread at once (FULL) alike."""
    monkeypatch.setattr(ledger_module, "BEGIN_WAIT", 0.2)
    path = tmp_path / "ledger.db"
    with _ledger(path, synchronous) as ledger:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        async def while_locked() -> float:
            began = time.monotonic()
            admission = await asyncio.wait_for(ledger.begin(_started("r1")), 5)
            waited = time.monotonic() - began
            assert admission is ADMITTED
            assert _rows(path) == []  # not written yet: the lock is still held
            other.execute("COMMIT")
            ledger.record(_final("r1"))
            await ledger.flushed()
            return waited

        waited = asyncio.run(while_locked())
        other.close()
        assert waited >= 0.2  # it waited for the thread, then went on
        assert _rows(path) == [("r1", "completed")]
