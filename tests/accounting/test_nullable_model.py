"""A refusal's ledger row may have no model (a compatible surface's 429 comes before its
body is read): `usage.model` is nullable, and a database made before that loses the NOT
NULL on its next start, keeping its rows and indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from proxy.accounting.ledger import Ledger
from proxy.storage import connect
from tests.reliability.harness import usage_row

OLD_USAGE = """
CREATE TABLE usage (
    request_id TEXT PRIMARY KEY, key_id TEXT, model TEXT NOT NULL, provider TEXT,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
    input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0, reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    inference_time DOUBLE PRECISION NOT NULL DEFAULT 0, meter TEXT, cost DOUBLE PRECISION,
    error_code TEXT, started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION
)"""


def _write_null_model(database_url: str) -> None:
    ledger = Ledger(database_url)
    ledger.start()
    row = usage_row("refused-1", "refused")
    row.model = None
    ledger.record(row)
    ledger.close()


def test_an_old_sqlite_ledger_takes_a_row_without_a_model(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(OLD_USAGE)
        old.execute(
            "INSERT INTO usage (request_id, model, status, started_at) VALUES ('kept', 'm', 'completed', 1)"
        )
    _write_null_model(f"sqlite:///{path}")
    with sqlite3.connect(path) as migrated:
        notnull = {row[1]: row[3] for row in migrated.execute("PRAGMA table_info(usage)")}
        rows = list(
            migrated.execute("SELECT request_id, model, status, instance IS NOT NULL FROM usage ORDER BY 1")
        )
        indexes = {row[1] for row in migrated.execute("PRAGMA index_list(usage)")}
    assert notnull["model"] == 0 and notnull["status"] == 1
    assert rows == [("kept", "m", "completed", 0), ("refused-1", None, "refused", 1)]
    assert {"usage_key_started", "usage_status"} <= indexes
    connect(f"sqlite:///{path}").close()  # a second start finds nothing to do


def test_an_old_postgres_ledger_takes_a_row_without_a_model(postgres_url: str) -> None:
    url = postgres_url
    connection = connect(url)
    connection.execute("ALTER TABLE usage ALTER COLUMN model SET NOT NULL")
    connection.close()
    _write_null_model(url)
    connection = connect(url)
    rows = connection.execute("SELECT request_id, model FROM usage").fetchall()
    connection.close()
    assert [tuple(row) for row in rows] == [("refused-1", None)]
