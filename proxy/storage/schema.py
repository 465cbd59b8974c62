"""The tables, in SQL both SQLite and Postgres take: keys, the usage ledger, live instances,
stored Responses API answers (`response`: the response object, `items`: its input as JSON).

Money and seconds are DOUBLE PRECISION (REAL in SQLite's affinity rules; a bare REAL would
be 4 bytes in Postgres)."""

from __future__ import annotations

TABLES = (
    """
CREATE TABLE IF NOT EXISTS keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  DOUBLE PRECISION NOT NULL,
    revoked_at  DOUBLE PRECISION,
    rpm         INTEGER,
    tpm         INTEGER,
    concurrency INTEGER,
    hash_prefix TEXT,
    budget      DOUBLE PRECISION,
    spent       DOUBLE PRECISION NOT NULL DEFAULT 0,
    reserved    DOUBLE PRECISION NOT NULL DEFAULT 0
)""",
    """
CREATE TABLE IF NOT EXISTS usage (
    request_id          TEXT PRIMARY KEY,
    key_id              TEXT,
    model               TEXT,
    provider            TEXT,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 1,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    inference_time      DOUBLE PRECISION NOT NULL DEFAULT 0,
    meter               TEXT,
    cost                DOUBLE PRECISION,
    error_code          TEXT,
    started_at          DOUBLE PRECISION NOT NULL,
    finished_at         DOUBLE PRECISION,
    reserved            DOUBLE PRECISION NOT NULL DEFAULT 0,
    instance            TEXT
)""",
    "CREATE INDEX IF NOT EXISTS usage_key_started ON usage (key_id, started_at)",
    "CREATE INDEX IF NOT EXISTS usage_status ON usage (status)",
    """
CREATE TABLE IF NOT EXISTS instances (
    id       TEXT PRIMARY KEY,
    host     TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    beat_at  DOUBLE PRECISION NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS responses (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    model       TEXT NOT NULL,
    provider    TEXT,
    response    TEXT NOT NULL,
    items       TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at)",
)

ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "keys": (
        ("tpm", "INTEGER"),
        ("concurrency", "INTEGER"),
        ("hash_prefix", "TEXT"),
        ("budget", "DOUBLE PRECISION"),
        ("spent", "DOUBLE PRECISION NOT NULL DEFAULT 0"),
        ("reserved", "DOUBLE PRECISION NOT NULL DEFAULT 0"),
    ),
    "usage": (("instance", "TEXT"), ("reserved", "DOUBLE PRECISION NOT NULL DEFAULT 0")),
}
"""Columns added after a table first shipped: opening an older database adds them."""

NULLABLE_COLUMNS: dict[str, tuple[str, ...]] = {"usage": ("model",)}
"""Columns that shipped NOT NULL and may now be null (a refusal's row before the body named
a model): opening an older database drops the constraint (SQLite: the table is rebuilt)."""

AFTER_MIGRATION = (
    "UPDATE keys SET hash_prefix = substr(hash, 1, 16) WHERE hash_prefix IS NULL",
    "CREATE INDEX IF NOT EXISTS keys_hash_prefix ON keys (hash_prefix)",
)
