"""D1, D3 (in process), D4: one ledger row per request whatever happens, and a database that
fails or is busy costs neither an answer nor a row. D5 and the crash sweep are in
test_database.py, the crash and SIGTERM runs of a real `unigate serve` in test_process.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.accounting.ledger import Ledger
from proxy.storage import sqlite_path
from proxy.storage.sqlite import SQLite
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    SSEResult,
    capture_logs,
    client,
    config,
    ledger,
    openai_stream,
    post,
    stream,
    usage_row,
    wait_for,
)

# -- D1: each terminal status, one row ----------------------------------------------------------

Scenario = Callable[[RunningGateway, FakeVendor], SSEResult]


def completed(gateway: RunningGateway, fake: FakeVendor) -> SSEResult:
    fake.enqueue(openai_stream(3))
    return stream(gateway)


def client_disconnected(gateway: RunningGateway, fake: FakeVendor) -> SSEResult:
    fake.enqueue(openai_stream(50, event_delay=0.05))
    return stream(gateway, stop=lambda seen: "text_delta" in seen.kinds)


def upstream_error(gateway: RunningGateway, fake: FakeVendor) -> SSEResult:
    fake.enqueue(openai_stream(20, cut_after=1500))
    return stream(gateway)


def timed_out(gateway: RunningGateway, fake: FakeVendor) -> SSEResult:
    fake.enqueue(openai_stream(10, stall_after=4, stall=10))
    return stream(gateway)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        (completed, "completed"),
        (client_disconnected, "client_disconnected"),
        (upstream_error, "upstream_error"),
        (timed_out, "timeout"),
    ],
    ids=["completed", "client_disconnected", "upstream_error", "timeout"],
)
def test_d1_each_terminal_status_leaves_exactly_one_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, scenario: Scenario, status: str
) -> None:
    gateway = make_gateway(config(idle=0.5))
    result = scenario(gateway, openai_fake)
    request_id = result.headers["x-request-id"]
    [found] = ledger(gateway)
    assert found["request_id"] == request_id
    assert found["status"] == status
    assert found["finished_at"] is not None and found["attempts"] == 1


@pytest.mark.timeout(10)
async def test_d1_a_second_final_write_for_a_request_is_a_no_op(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    ledger_ = Ledger(f"sqlite:///{database}")
    ledger_.start()
    try:
        await ledger_.begin(usage_row("r1", "started"))
        ledger_.record(usage_row("r1", "completed"))
        ledger_.record(usage_row("r1", "upstream_error"))
        await ledger_.begin(usage_row("r1", "started"))  # also flushes the queue before it
    finally:
        ledger_.close()
    [found] = ledger(database, settle=0)
    assert found["status"] == "completed"


# -- D3 in process: readiness and the drain ------------------------------------------------------


@pytest.mark.timeout(20)
def test_d3_drain_fails_readiness_at_once_and_ends_streams_after_the_grace(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(shutdown_grace=0.6, idle=5))
    openai_fake.responder = lambda _: openai_stream(200, event_delay=0.05)
    openai_fake.enqueue(openai_stream(4, event_delay=0.05))  # finishes within the grace
    results: list[SSEResult] = []
    threads = [threading.Thread(target=lambda: results.append(stream(gateway))) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: openai_fake.in_flight == 4)
    with client(gateway) as http:
        assert http.get("/readyz").status_code == 200
        drained = time.monotonic()
        make_gateway.call_soon(gateway, gateway.gateway.begin_drain)
        wait_for(lambda: http.get("/readyz").status_code == 503, 0.5)
        assert time.monotonic() - drained < 0.3
        assert http.get("/healthz").status_code == 200
    for thread in threads:
        thread.join()
    assert 0.6 <= time.monotonic() - drained < 0.6 + 1.0
    finished = [result for result in results if "error" not in result.kinds]
    cut = [result for result in results if "error" in result.kinds]
    assert len(finished) == 1 and len(cut) == 3
    for result in cut:
        assert result.kinds[-3:] == ["error", "billing", "done"]
        error = result.first("error")
        assert (error["code"], error["retryable"]) == ("shutting_down", False)
    wait_for(lambda: openai_fake.disconnects == 3, 2)  # the vendor calls were stopped too
    rows = ledger(gateway, count=4)
    assert sorted(found["status"] for found in rows) == ["completed", "shutdown", "shutdown", "shutdown"]
    assert all(found["output_tokens"] > 0 for found in rows)


# -- D4: a database that fails or is busy ------------------------------------------------------------

FAIL_FINAL_ROWS = "final"
FAIL_ALL_ROWS = "all"
_FAILING: dict[str, str | None] = {"mode": None}
_EXECUTE = SQLite.execute


def _failing_execute(self: SQLite, sql: str, params: Any = ()) -> Any:
    """What a full disk does to a ledger write: SQLITE_FULL, an OperationalError."""
    mode = _FAILING["mode"]
    writes_usage = sql.lstrip().startswith("INSERT INTO usage")
    if mode is not None and writes_usage and (mode == FAIL_ALL_ROWS or params[4] != "started"):
        raise sqlite3.OperationalError("database or disk is full (simulated)")
    return _EXECUTE(self, sql, params)


@pytest.fixture(autouse=True)
def _disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SQLite, "execute", _failing_execute)
    _FAILING["mode"] = None


def faults(gateway: RunningGateway, mode: str | None) -> None:
    """Make this process's ledger writes fail as on a full disk (all rows, or final rows only),
    or stop failing."""
    _FAILING["mode"] = mode


@pytest.mark.timeout(30)
def test_d4_a_failing_final_write_is_retried_until_the_row_lands(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(config())
    capture_logs(caplog)
    faults(gateway, FAIL_FINAL_ROWS)
    started = time.monotonic()
    assert post(gateway).status_code == 200
    assert time.monotonic() - started < 1.0  # the answer did not wait for the ledger
    time.sleep(0.5)
    [waiting] = ledger(gateway, settle=0)
    assert waiting["status"] == "started"
    assert "ledger write failed" in caplog.text
    faults(gateway, None)
    [landed] = ledger(gateway, settle=10)
    assert landed["status"] == "completed"


@pytest.mark.timeout(30)
def test_d4_a_database_failing_every_write_still_answers_and_the_row_lands_later(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    faults(gateway, FAIL_ALL_ROWS)
    started = time.monotonic()
    response = post(gateway)
    assert response.status_code == 200
    assert time.monotonic() - started < 5.0
    assert ledger(gateway, settle=0) == []
    faults(gateway, None)
    [landed] = ledger(gateway, settle=10)
    assert landed["status"] == "completed"


@pytest.mark.timeout(30)
def test_d4_a_locked_database_never_blocks_the_event_loop(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    locker = sqlite3.connect(sqlite_path(gateway.settings.database_url), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    answers: list[int] = []
    try:
        request = threading.Thread(target=lambda: answers.append(post(gateway).status_code))
        request.start()
        time.sleep(0.3)
        with client(gateway) as http:
            for _ in range(5):
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                assert time.monotonic() - started < 0.2
        time.sleep(0.5)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    request.join()
    assert answers == [200]
    [found] = ledger(gateway)
    assert found["status"] == "completed"


@pytest.mark.timeout(30)
def test_d4_a_row_the_database_refuses_is_logged_whole_and_holds_back_no_other(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A constraint (here a trigger) refuses one row for good: the rows around it land, the
    writer goes on, and the refused row is in the log at ERROR for an operator to re-enter."""
    database = tmp_path / "poison.db"
    ledger_ = Ledger(f"sqlite:///{database}")
    ledger_.start()
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON usage WHEN NEW.request_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    capture_logs(caplog)
    for request_id in ("before", "poison", "after"):
        ledger_.record(usage_row(request_id, "completed"))
    ledger_.record(usage_row("later", "completed"))
    time.sleep(0.3)
    ledger_.record(usage_row("much-later", "completed"))
    ledger_.close()
    landed = {row["request_id"] for row in ledger(database, settle=0)}
    assert landed == {"before", "after", "later", "much-later"}
    refused = [record for record in caplog.records if record.levelname == "ERROR"]
    assert len(refused) == 1 and '"request_id": "poison"' in refused[0].getMessage()
