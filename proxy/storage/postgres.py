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
from typing import Any
from urllib.parse import urlsplit

import psycopg

from proxy.server.redaction import masked_url
from proxy.storage.interface import Params, Rows
from proxy.storage.schema import ADDED_COLUMNS, AFTER_MIGRATION, NULLABLE_COLUMNS, TABLES


class Unreachable(ConnectionError):
    """The database could not be reached; the message names it without its password."""


_MIGRATION_LOCK = 0x756E6967  # "unig"
_CREATES = re.compile(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)")
_PLACEHOLDER = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=256)
def to_psycopg(sql: str) -> str:
    """`?` -> `%s`, `:name` -> `%(name)s`; a literal `%` doubled. Our SQL has no `?` or `:`
    inside string literals, which is what makes this rewrite safe."""
    escaped = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda match: f"%({match[1]})s" if match[1] else "%s", escaped)


class Postgres:
    kind = "postgresql"
    errors: tuple[type[Exception], ...] = (psycopg.Error, ConnectionError)
    transient: tuple[type[Exception], ...] = (psycopg.OperationalError, ConnectionError)
    """A lost connection, a restart, a deadlock or serialization failure, a full disk."""
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        self._url = url
        self._depth = 0
        self.raw = self._connect()
        self._migrate()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as error:
            # say why (refused, authentication, no such database) but never the password
            password = urlsplit(self._url).password
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if password:
                reason = reason.replace(password, "***")
            raise Unreachable(f"cannot connect to Postgres at {masked_url(self._url)}: {reason}") from None

    def _live(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The connection, opened again if it was lost (a database restart, a failover): the
        failed operation is retried by its caller, the next one finds a fresh connection."""
        if self.raw.closed or self.raw.broken:
            self.raw = self._connect()
        return self.raw

    def execute(self, sql: str, params: Params = ()) -> Rows:
        """Outside a transaction, a statement that finds its connection cut is sent once more
        on a new one (a lookup should not fail because the database restarted an hour ago);
        inside one, the caller retries the whole transaction."""
        try:
            return self._live().execute(to_psycopg(sql), params)
        except psycopg.OperationalError:
            if self._depth or not self.raw.broken:
                raise
            return self._live().execute(to_psycopg(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._live().cursor() as cursor:
            cursor.executemany(to_psycopg(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._depth += 1
        try:
            with self._live().transaction():
                yield
        finally:
            self._depth -= 1

    def close(self) -> None:
        self.raw.close()

    def _migrate(self) -> None:
        with self.raw.transaction():
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            # `CREATE INDEX IF NOT EXISTS` takes a SHARE lock on its table before it finds
            # the index there: it waited for the running writers' transactions, held up every
            # writer after them, and deadlocked with a budget reservation locking the keys
            # table then the ledger's. Only what is missing is created.
            relations = {
                name
                for (name,) in self.raw.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema()"
                ).fetchall()
            }
            for statement in _missing(TABLES, relations):
                self.raw.execute(statement)
            # an ALTER takes the table's strongest lock, which waits for (and deadlocks with)
            # the ledger writers of running replicas: only for a column that needs it
            present = {
                (table, column): nullable == "YES"
                for table, column, nullable in self.raw.execute(
                    "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
                    " WHERE table_schema = current_schema()"
                ).fetchall()
            }
            for table, columns in ADDED_COLUMNS.items():
                for name, kind in columns:
                    if (table, name) not in present:
                        self.raw.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")
            for table, names in NULLABLE_COLUMNS.items():
                for name in names:
                    if present.get((table, name)) is False:
                        self.raw.execute(f"ALTER TABLE {table} ALTER COLUMN {name} DROP NOT NULL")
            for statement in _missing(AFTER_MIGRATION, relations):
                self.raw.execute(statement)


def _missing(statements: Sequence[str], relations: set[str]) -> Iterator[str]:
    """The statements still to run: a `CREATE … IF NOT EXISTS` of a relation already there
    is left out (it would lock its table for nothing); any other statement runs."""
    for statement in statements:
        created = _CREATES.search(statement)
        if created is None or created[1] not in relations:
            yield statement
