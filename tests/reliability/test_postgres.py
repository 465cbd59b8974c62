"""The ledger, keys, budgets and the crash sweep on Postgres (several replicas sharing one
database), against a real server: the same guarantees as on SQLite."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from proxy.accounting.ledger import Ledger
from proxy.identity.keys import KeyStore
from proxy.settings import ConfigError, load_settings
from proxy.storage import connect
from proxy.storage.postgres import to_psycopg
from schemas.errors import GatewayError
from tests.fakes.server import FakeVendor, Reply
from tests.postgres import rows
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import capture_logs, client, config, ledger, openai_stream, stream, usage_row


def test_placeholders_are_rewritten_for_psycopg() -> None:
    assert to_psycopg("SELECT a FROM t WHERE b = ? AND c = :name AND d LIKE '5%'") == (
        "SELECT a FROM t WHERE b = %s AND c = %(name)s AND d LIKE '5%%'"
    )
    assert to_psycopg("SELECT excluded.x::text") == "SELECT excluded.x::text"


def test_replicas_starting_together_agree_on_the_schema(postgres_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        connections = list(pool.map(lambda _: connect(postgres_url), range(4)))
    for connection in connections:
        connection.close()
    columns = rows(
        postgres_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'keys'"
    )
    assert {"budget", "spent", "reserved", "hash_prefix"} <= {row["column_name"] for row in columns}


def test_a_replica_connecting_does_not_wait_for_running_writers(postgres_url: str) -> None:
    """Opening a connection (a replica starting, a key store's first lookup mid-traffic)
    takes no lock a ledger writer holds: `CREATE INDEX IF NOT EXISTS` takes a SHARE lock on
    its table even when the index exists, so it queued behind the writers' open transaction,
    every later writer queued behind it, and with two tables locked in turn it deadlocked with
    a reservation (a second's stall: budgeted calls then came late, or went on unreserved)."""
    connect(postgres_url).close()  # the schema exists
    writer = psycopg.connect(postgres_url, autocommit=True)
    opened: list[bool] = []
    try:
        writer.execute("BEGIN")
        writer.execute("SELECT id FROM keys FOR UPDATE")
        writer.execute("UPDATE keys SET spent = spent")
        writer.execute("INSERT INTO instances (id, host, pid, beat_at) VALUES ('w', 'h', 1, 0)")
        writer.execute(
            "INSERT INTO usage (request_id, status, attempts, input_tokens, output_tokens,"
            " cached_input_tokens, reasoning_tokens, inference_time, started_at)"
            " VALUES ('r', 'started', 0, 0, 0, 0, 0, 0, 0)"
        )
        with ThreadPoolExecutor(1) as pool:
            opening = pool.submit(lambda: connect(postgres_url).close())
            try:
                opening.result(timeout=10)
                opened.append(True)
            finally:
                writer.execute("ROLLBACK")  # lets a waiting connect finish, so the pool can end
    finally:
        writer.close()
    assert opened == [True], "the connect waited for the writer's transaction"


def test_a_bad_postgres_url_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(ConnectionError) as refused:
        connect("postgresql://unigate:s3cret-pw@127.0.0.1:1/nothing?connect_timeout=1")
    assert "s3cret-pw" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


@pytest.mark.timeout(60)
async def test_two_ledgers_write_one_row_per_request(postgres_url: str) -> None:
    ledgers = [Ledger(postgres_url) for _ in range(2)]
    for each in ledgers:
        each.start()

    async def one(each: Ledger, number: int) -> None:
        request_id = f"{each.instance}-{number}"
        await each.begin(usage_row(request_id, "started"))
        each.record(usage_row(request_id, "completed"))
        each.record(usage_row(request_id, "upstream_error"))  # a second final write: a no-op

    try:
        await asyncio.gather(*(one(each, n) for each in ledgers for n in range(200)))
    finally:
        for each in ledgers:
            each.close()
    found = ledger(postgres_url, settle=0)
    assert len(found) == 400
    assert {row["status"] for row in found} == {"completed"}


def test_rows_of_a_dead_replica_become_interrupted_and_free_their_budget(postgres_url: str) -> None:
    keys = KeyStore(postgres_url)
    record, _ = keys.create("budgeted", budget=1.0)
    dying = Ledger(postgres_url)
    dying.start()

    async def start() -> None:
        row = usage_row("held", "started")
        row.key_id = record.id
        (await dying.begin(row, reserve=0.6)).check()
        again = usage_row("refused", "started")
        again.key_id = record.id
        with pytest.raises(GatewayError):
            (await dying.begin(again, reserve=0.6)).check()

    asyncio.run(start())
    dying.close()
    connection = connect(postgres_url)
    with connection.transaction():  # it stopped beating, on another host
        connection.execute("UPDATE instances SET beat_at = 0, host = 'elsewhere', pid = ?", (os.getpid(),))
    connection.close()
    survivor = Ledger(postgres_url)
    survivor.start()
    survivor.close()
    found = ledger(postgres_url, settle=0)
    assert [(row["request_id"], row["status"], row["reserved"]) for row in found] == [
        ("held", "interrupted", 0.0)
    ]
    after = keys.get(record.id)
    assert after is not None and after.reserved == 0.0
    keys.close()


def test_the_sweep_spares_a_live_replica(postgres_url: str) -> None:
    first = Ledger(postgres_url)
    first.start()
    asyncio.run(first.begin(usage_row("live", "started")))
    second = Ledger(postgres_url)
    second.start()  # sweeps at start: the first still beats
    second.close()
    assert [row["status"] for row in ledger(postgres_url, settle=0)] == ["started"]
    first.close()


@pytest.mark.timeout(60)
def test_a_gateway_on_postgres_keys_ledger_idempotency_and_usage(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, postgres_url: str
) -> None:
    first = make_gateway(config(), database_url=postgres_url)
    # the other replica, called with the key made through the first
    replicas = [first, replace(make_gateway(config(), database_url=postgres_url), key=first.key)]
    openai_fake.enqueue(
        openai_stream(60, event_delay=0.05), openai_stream(5), Reply.fixture("openai/chat.json")
    )
    headers = {"Idempotency-Key": "pg-retry"}
    cut = stream(
        replicas[0], "/models/v2/solo/openai", headers=headers, stop=lambda seen: "text_delta" in seen.kinds
    )
    assert cut.status == 200
    ledger(postgres_url)
    retry = stream(replicas[1], "/models/v2/solo/openai", headers=headers)  # the other replica
    assert retry.kinds[-1] == "done"
    with client(replicas[1]) as http:  # a key made through one replica works on the other
        assert (
            http.post(
                "/models/v2/solo/openai", json={"messages": [{"role": "user", "content": "hi"}]}
            ).status_code
            == 200
        )
        usage = http.get("/v1/usage").json()
    found = ledger(postgres_url, count=2)
    assert sorted((row["status"], row["attempts"]) for row in found) == [("completed", 1), ("completed", 2)]
    assert usage["requests"] == 2
    assert usage["cost"] == pytest.approx(sum(row["cost"] for row in found))


def test_the_database_url_may_be_postgres(postgres_url: str) -> None:
    settings = load_settings(None, environ={"UNIGATE_DATABASE_URL": postgres_url})
    assert settings.database_url == postgres_url
    keys = KeyStore(settings.database_url)
    record, key = keys.create("x", rpm=5)
    assert asyncio.run(keys.lookup(key)) == record
    assert keys.revoke(record.id)
    assert asyncio.run(keys.lookup(key)) is None
    keys.close()


def test_unigate_check_never_prints_the_database_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from proxy.cli import main as cli

    (tmp_path / "config.toml").write_text("")
    os.environ["UNIGATE_DATABASE_URL"] = "postgresql://unigate:s3cret-pw@db.internal:5432/gateway"
    try:
        cli(["check", "--config", str(tmp_path / "config.toml")])
    finally:
        del os.environ["UNIGATE_DATABASE_URL"]
    out = capsys.readouterr().out
    assert "postgresql://unigate:***@db.internal:5432/gateway" in out
    assert "s3cret-pw" not in out


def test_an_unknown_database_scheme_is_refused_at_load() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, environ={"UNIGATE_DATABASE_URL": "mysql://u:p@h/d"})
    assert "'mysql'" in str(refused.value) and "p@h" not in str(refused.value)


@pytest.mark.timeout(60)
def test_a_lost_connection_is_opened_again_and_nothing_is_dropped(postgres_url: str) -> None:
    """A database restart or failover cuts every connection: the ledger's write is retried on
    a fresh one, and key lookups go on."""
    keys = KeyStore(postgres_url)
    record, key = keys.create("survivor")
    writer = Ledger(postgres_url)
    writer.start()
    try:
        asyncio.run(writer.begin(usage_row("before", "started")))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid != pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 2  # the ledger's and the key store's
        writer.record(usage_row("before", "completed"))
        asyncio.run(writer.begin(usage_row("after", "started")))
        writer.record(usage_row("after", "completed"))
        keys._cache.clear()
        assert asyncio.run(keys.lookup(key)) == record
    finally:
        writer.close()
        keys.close()
    found = ledger(postgres_url, settle=10, count=2)
    assert [(row["request_id"], row["status"]) for row in found] == [
        ("before", "completed"),
        ("after", "completed"),
    ]


@pytest.mark.timeout(30)
def test_a_row_postgres_cannot_store_holds_back_no_other(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Postgres refuses NUL in text for good (SQLite takes it): that row is logged whole at
    ERROR, the rows batched with it land, and the writer goes on."""
    writer = Ledger(postgres_url)
    writer.start()
    capture_logs(caplog)
    poison = usage_row("poison", "completed")
    poison.model = "m\x00"
    for row in (usage_row("before", "completed"), poison, usage_row("after", "completed")):
        writer.record(row)
    writer.close()
    assert {row["request_id"] for row in ledger(postgres_url, settle=0)} == {"before", "after"}
    refused = [record for record in caplog.records if record.levelname == "ERROR"]
    assert len(refused) == 1 and '"request_id": "poison"' in refused[0].getMessage()


def test_a_model_id_with_control_characters_is_no_route(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    with client(gateway) as http:
        answer = http.post("/v1/chat/completions", json={"model": "openai/gpt-4o-mini\x00", "messages": []})
        native = http.post(
            "/models/v2/openai/gpt-4o-mini%00", json={"messages": [{"role": "user", "content": "x"}]}
        )
    assert answer.status_code == native.status_code == 404
    assert openai_fake.received == []
