"""The embedded database: SQLite in WAL mode, its schema, and how connections are opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from proxy.settings import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  REAL NOT NULL,
    revoked_at  REAL,
    rpm         INTEGER,
    tpm         INTEGER,
    concurrency INTEGER,
    hash_prefix TEXT,
    budget      REAL,
    spent       REAL NOT NULL DEFAULT 0,
    reserved    REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
    request_id          TEXT PRIMARY KEY,
    key_id              TEXT,
    model               TEXT NOT NULL,
    provider            TEXT,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 1,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    inference_time      REAL NOT NULL DEFAULT 0,
    meter               TEXT,
    cost                REAL,
    error_code          TEXT,
    started_at          REAL NOT NULL,
    finished_at         REAL,
    reserved            REAL NOT NULL DEFAULT 0,
    instance            TEXT
);
CREATE INDEX IF NOT EXISTS usage_key_started ON usage (key_id, started_at);
CREATE INDEX IF NOT EXISTS usage_status ON usage (status);
CREATE TABLE IF NOT EXISTS instances (
    id       TEXT PRIMARY KEY,
    host     TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    beat_at  REAL NOT NULL
);
"""


ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "keys": (
        ("tpm", "INTEGER"),
        ("concurrency", "INTEGER"),
        ("hash_prefix", "TEXT"),
        ("budget", "REAL"),
        ("spent", "REAL NOT NULL DEFAULT 0"),
        ("reserved", "REAL NOT NULL DEFAULT 0"),
    ),
    "usage": (("instance", "TEXT"), ("reserved", "REAL NOT NULL DEFAULT 0")),
}
"""Columns added after a table first shipped: `connect` adds them to an older database."""


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring an older database up to SCHEMA; one transaction, so concurrent workers agree."""
    with connection:
        connection.execute("BEGIN IMMEDIATE")
        for table, columns in ADDED_COLUMNS.items():
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in present:
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        connection.execute("UPDATE keys SET hash_prefix = substr(hash, 1, 16) WHERE hash_prefix IS NULL")
        connection.execute("CREATE INDEX IF NOT EXISTS keys_hash_prefix ON keys (hash_prefix)")


def sqlite_path(database_url: str) -> Path:
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///"))
    scheme = database_url.partition(":")[0]
    raise ConfigError(f"database scheme {scheme!r} is not supported yet; use sqlite:///<path>")


def connect(database_url: str) -> sqlite3.Connection:
    """A connection with the pragmas every user of the database needs, schema ensured."""
    path = sqlite_path(database_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.executescript(SCHEMA)
    _migrate(connection)
    return connection
