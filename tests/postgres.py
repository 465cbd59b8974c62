"""A real Postgres for the storage tests: `pgserver` ships the server binaries in a wheel,
so the suite needs nothing installed beyond its lock file. One server per test session,
one fresh database per test."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from proxy.storage import connect


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with warnings.catch_warnings():
        # platformdirs, used by pgserver, warns when XDG_RUNTIME_DIR is unset (CI, containers)
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(Path(tmp_path_factory.mktemp("postgres")), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The URL of an empty database of this test's own."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    base, _, query = postgres_server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


def rows(database_url: str, sql: str = "SELECT * FROM usage ORDER BY started_at") -> list[dict[str, Any]]:
    """Rows as dicts, from either backend."""
    connection = connect(database_url)
    try:
        cursor: Any = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
