"""Where keys, the ledger and budgets live: SQLite (the embedded default, one host) or
Postgres (several replicas), chosen by the database URL.

Every user of the database goes through `connect` and the small interface both classes
share: `execute`, `executemany`, `transaction()` (a write transaction that serialises with
other writers), `errors` (what a failed write raises), `transient` (those of them a retry
may cure), `for_update` (the row-lock suffix a read-check-write needs) and `kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from proxy.settings import ConfigError
from proxy.storage.sqlite import SQLite

if TYPE_CHECKING:
    from proxy.storage.postgres import Postgres

    Database = SQLite | Postgres
else:
    Database = SQLite

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(database_url: str) -> Path:
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///"))
    scheme = database_url.partition(":")[0]
    raise ConfigError(f"database scheme {scheme!r} is not supported; use sqlite:///<path> or postgresql://…")


def connect(database_url: str) -> Database:
    """A connection with the settings every user of the database needs, schema ensured."""
    if database_url.startswith(_POSTGRES_SCHEMES):
        from proxy.storage.postgres import Postgres

        return Postgres(database_url)
    return SQLite(sqlite_path(database_url))
