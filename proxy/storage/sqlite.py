"""The embedded database: SQLite in WAL mode, one file, nothing to install.

Writers serialise on `BEGIN IMMEDIATE`, across threads and across worker processes on one
host, so a read-check-write inside `transaction()` (a budget reservation) is atomic."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from proxy.storage.interface import Params, Rows
from proxy.storage.schema import ADDED_COLUMNS, AFTER_MIGRATION, NULLABLE_COLUMNS, TABLES


class SQLite:
    kind = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)
    """Locked, busy, full, I/O: the database's state, which a retry may find changed."""
    for_update = ""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.raw.execute("PRAGMA journal_mode=WAL")
        self.raw.execute("PRAGMA synchronous=FULL")
        self.raw.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def execute(self, sql: str, params: Params = ()) -> Rows:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.raw.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.raw:
            self.raw.execute("BEGIN IMMEDIATE")
            yield

    def close(self) -> None:
        self.raw.close()

    def _relax(self, table: str, names: tuple[str, ...]) -> None:
        """Drop NOT NULL from `names`: SQLite cannot alter a column, so a table that still
        has the constraint is rebuilt from the current definition, inside the migration's
        transaction; dropping the old table drops its indexes, which are created again."""
        info = self.raw.execute(f"PRAGMA table_info({table})").fetchall()
        if not any(row[1] in names and row[3] for row in info):
            return
        head = f"CREATE TABLE IF NOT EXISTS {table} ("
        definition = next(statement for statement in TABLES if head in statement)
        self.raw.execute(definition.replace(head, f"CREATE TABLE {table}_relaxed (", 1))
        columns = ", ".join(row[1] for row in info)
        self.raw.execute(f"INSERT INTO {table}_relaxed ({columns}) SELECT {columns} FROM {table}")  # noqa: S608
        self.raw.execute(f"DROP TABLE {table}")
        self.raw.execute(f"ALTER TABLE {table}_relaxed RENAME TO {table}")
        for statement in TABLES:
            if f" ON {table} (" in statement:
                self.raw.execute(statement)

    def _migrate(self) -> None:
        """Bring the file up to the schema; one transaction, so concurrent workers agree."""
        with self.transaction():
            for statement in TABLES:
                self.raw.execute(statement)
            for table, columns in ADDED_COLUMNS.items():
                present = {row[1] for row in self.raw.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in present:
                        self.raw.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            for table, names in NULLABLE_COLUMNS.items():
                self._relax(table, names)
            for statement in AFTER_MIGRATION:
                self.raw.execute(statement)
