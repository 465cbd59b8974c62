"""D5 and the crash sweep, at the ledger itself: the database's settings, many writers at
once, and rows of an instance that died becoming `interrupted` when the next one starts."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

import proxy.accounting.ledger_rows
from proxy.accounting.ledger import Ledger
from proxy.identity.keys import KeyStore
from proxy.storage import connect
from tests.reliability.harness import ledger, usage_row

# -- D5: the database's settings, and many writers ---------------------------------------------------------


def test_d5_connections_use_wal_full_sync_and_a_busy_timeout(tmp_path: Path) -> None:
    connection = connect(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    finally:
        connection.close()


@pytest.mark.parametrize(("setting", "level"), [("NORMAL", 1), ("FULL", 2)])
def test_d5_the_ledger_writes_with_the_configured_synchronous_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, level: int
) -> None:
    opened: list[sqlite3.Connection] = []

    def recording(url: str) -> sqlite3.Connection:
        opened.append(connect(url))
        return opened[-1]

    monkeypatch.setattr(proxy.accounting.ledger, "connect", recording)
    ledger_ = Ledger(f"sqlite:///{tmp_path / 'sync.db'}", setting)
    ledger_.start()
    try:
        # the writer thread's connection, and with NORMAL the event loop's own (group commit)
        assert len(opened) == (2 if setting == "NORMAL" else 1)
        for connection in opened:
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == level
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        if setting == "NORMAL":
            loops = opened[1]
            assert loops.execute("PRAGMA busy_timeout").fetchone()[0] == 0  # never waits on the loop
            assert loops.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # the thread's job
    finally:
        ledger_.close()


@pytest.mark.timeout(60)
async def test_d5_writers_from_several_workers_never_see_database_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    ledgers = [Ledger(url, "FULL") for _ in range(3)]  # one per worker process, each its own writer
    for each in ledgers:
        each.start()
    keys = KeyStore(url)

    async def one(each: Ledger, number: int) -> None:
        request_id = f"{id(each)}-{number}"
        await each.begin(usage_row(request_id, "started"))
        each.record(usage_row(request_id, "completed"))

    try:
        creating = asyncio.gather(*(asyncio.to_thread(keys.create, f"key-{n}") for n in range(20)))
        await asyncio.gather(creating, *(one(each, n) for each in ledgers for n in range(300)))
    finally:
        for each in ledgers:
            each.close()
        keys.close()
    rows = ledger(tmp_path / "busy.db", settle=0)
    assert len(rows) == 900
    assert {found["status"] for found in rows} == {"completed"}


# -- the sweep: rows of dead instances become `interrupted` -----------------------------------------------


def test_rows_of_a_dead_instance_are_marked_interrupted_at_the_next_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    connection = connect(url)
    dead_pid = 2**22 + 12345  # above pid_max's default: no such process
    alive = uuid.uuid4().hex
    with connection.transaction():
        connection.execute(
            "INSERT INTO instances (id, host, pid, beat_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
            (
                "dead",
                proxy.accounting.ledger_rows.HOST,
                dead_pid,
                time.time(),
                alive,
                proxy.accounting.ledger_rows.HOST,
                os.getpid(),
                time.time(),
            ),
        )
        for request_id, instance in (("of-dead", "dead"), ("of-alive", alive)):
            values = (request_id, "m", "started", 0, time.time(), instance)
            connection.execute(
                "INSERT INTO usage (request_id, model, status, attempts, started_at, instance) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
    connection.close()
    ledger_ = Ledger(url)
    ledger_.start()
    ledger_.close()
    statuses = {found["request_id"]: found["status"] for found in ledger(tmp_path / "sweep.db", settle=0)}
    assert statuses == {"of-dead": "interrupted", "of-alive": "started"}
