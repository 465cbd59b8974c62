"""Postgres, for several replicas sharing keys, the ledger and budgets.

The queries are written once, in SQLite's parameter style (`?`, `:name`); this connection
rewrites them to psycopg's (`%s`, `%(name)s`) once per distinct text. A read-check-write
inside `transaction()` locks the rows it reads with `FOR UPDATE` (`for_update`), which is
what `BEGIN IMMEDIATE` gives on SQLite. The schema is created under an advisory lock, so
replicas starting together do not race on `CREATE TABLE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import psycopg

from proxy.storage.interface import Params, Rows
from proxy.storage.schema import ADDED_COLUMNS, AFTER_MIGRATION, TABLES

_MIGRATION_LOCK = 0x756E6967  # "unig"
_PLACEHOLDER = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=256)
def to_psycopg(sql: str) -> str:
    """`?` -> `%s`, `:name` -> `%(name)s`; a literal `%` doubled. Our SQL has no `?` or `:`
    inside string literals, which is what makes this rewrite safe."""
    escaped = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda match: f"%({match[1]})s" if match[1] else "%s", escaped)


class Postgres:
    kind = "postgresql"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        try:
            self.raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            # psycopg's message may quote the URL, password included
            raise ConnectionError("could not connect to the Postgres database in the database URL") from None
        self._migrate()

    def execute(self, sql: str, params: Params = ()) -> Rows:
        return self.raw.execute(to_psycopg(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(to_psycopg(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.raw.transaction():
            yield

    def close(self) -> None:
        self.raw.close()

    def _migrate(self) -> None:
        with self.raw.transaction():
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            for statement in TABLES:
                self.raw.execute(statement)
            for table, columns in ADDED_COLUMNS.items():
                for name, kind in columns:
                    self.raw.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")
            for statement in AFTER_MIGRATION:
                self.raw.execute(statement)
