"""D2 and D3 against a real `unigate serve` process: `kill -9` under concurrent streams, then
a restart; SIGTERM under live streams. The fake vendor runs in this process, the gateway in
its own, both on loopback sockets; the ledger is read straight from the SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.identity.keys import KeyStore
from tests.fakes.server import FakeVendor, Received, Reply, ServerThread
from tests.reliability.harness import BODY, CHAT, KEYS, config, frames, openai_stream, wait_for
from tests.serve_process import free_port

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class Serve:
    """One `unigate serve` process; several may run, one after the other, on one database."""

    tmp_path: Path
    vendor_url: str
    config_text: str
    database: Path = field(init=False)
    key: str = field(init=False)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.database = self.tmp_path / "unigate.db"
        store = KeyStore(f"sqlite:///{self.database}")
        _, self.key = store.create("process-tests")
        store.close()
        (self.tmp_path / "config.toml").write_text(self.config_text)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Serve:
        self.port = free_port()
        environ = {
            **os.environ,
            "UNIGATE_DATABASE_URL": f"sqlite:///{self.database}",
            "UNIGATE_OPENAI_BASE_URL": f"{self.vendor_url}/v1",
        }
        with (self.tmp_path / f"serve-{self.port}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "proxy.cli", "serve", "--config", str(self.tmp_path / "config.toml"),
                 "--port", str(self.port)],
                cwd=REPOSITORY, env=environ, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"unigate serve did not start: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.tmp_path.glob("serve-*.log"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def rows(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.database) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute("SELECT * FROM usage")]


@dataclass
class Streamed:
    request_id: str | None = None
    events: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    broken: bool = False
    headers_at: threading.Event = field(default_factory=threading.Event)


def stream_into(serve: Serve, kind: str, into: Streamed) -> None:
    """Stream one request; `kind` ("fast" or "slow") tells the fake vendor how long to talk."""
    body = {**BODY, "messages": [{"role": "user", "content": kind}], "stream": True}
    headers = {"Authorization": f"Key {serve.key}", **KEYS}
    try:
        with (
            httpx.Client(timeout=30) as http,
            http.stream("POST", f"{serve.url}{CHAT}", json=body, headers=headers) as response,
        ):
            into.request_id = response.headers.get("x-request-id")
            into.headers_at.set()
            for frame in frames(response.iter_lines()):
                if frame is not None:
                    into.events.append(frame[0])
                    if frame[0] == "error":
                        into.error = frame[1]
    except httpx.TransportError:
        into.broken = True
    finally:
        into.headers_at.set()


def by_length(request: Received) -> Reply:
    said = (request.json() or {})["messages"][0]["content"]
    return openai_stream(3, event_delay=0.05) if said == "fast" else openai_stream(300, event_delay=0.1)


@pytest.fixture
def vendor() -> Iterator[tuple[FakeVendor, str]]:
    fake = FakeVendor(by_length)
    server = ServerThread(fake, lifespan="off").start()
    yield fake, server.url
    server.stop()


def run_streams(serve: Serve, kinds: list[str]) -> tuple[list[Streamed], list[threading.Thread]]:
    results = [Streamed() for _ in kinds]
    threads = [
        threading.Thread(target=stream_into, args=(serve, kind, result), daemon=True)
        for kind, result in zip(kinds, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    return results, threads


@pytest.mark.timeout(90)
def test_d2_kill_9_under_20_streams_then_restart_leaves_exactly_one_row_each(
    tmp_path: Path, vendor: tuple[FakeVendor, str]
) -> None:
    fake, vendor_url = vendor
    serve = Serve(tmp_path, vendor_url, config(first_byte=10, idle=10, total=120)).start()
    try:
        kinds = ["fast", "slow"] * 10
        results, threads = run_streams(serve, kinds)
        wait_for(lambda: all(result.headers_at.is_set() for result in results), 20)
        wait_for(
            lambda: all(
                "done" in result.events for result, kind in zip(results, kinds, strict=True) if kind == "fast"
            ),
            20,
        )
        wait_for(lambda: fake.in_flight == 10, 10)  # the slow ten are mid-stream at the vendor
        time.sleep(0.3)  # the finished ten's rows are committed by now
        assert serve.process is not None
        serve.process.kill()
        serve.process.wait(10)
        for thread in threads:
            thread.join(10)
        before = {row["request_id"]: row["status"] for row in serve.rows()}
        assert sorted(before.values()) == ["completed"] * 10 + ["started"] * 10  # what a crash leaves
        serve.start()  # the same database: the restart marks the dead instance's rows
    finally:
        serve.stop()
    rows = serve.rows()
    seen = {result.request_id: kind for result, kind in zip(results, kinds, strict=True)}
    assert None not in seen
    assert len(rows) == 20
    assert {row["request_id"] for row in rows} == set(seen)  # every request, exactly once
    for row in rows:
        expected = "completed" if seen[row["request_id"]] == "fast" else "interrupted"
        assert row["status"] == expected, row
        assert row["finished_at"] is not None
    for result, kind in zip(results, kinds, strict=True):
        assert (result.broken or "done" not in result.events) if kind == "slow" else "done" in result.events


@pytest.mark.timeout(60)
def test_d3_sigterm_fails_readiness_drains_streams_with_an_error_and_flushes_the_ledger(
    tmp_path: Path, vendor: tuple[FakeVendor, str]
) -> None:
    fake, vendor_url = vendor
    serve = Serve(tmp_path, vendor_url, config(first_byte=10, idle=10, total=120, shutdown_grace=1.0)).start()
    try:
        kinds = ["slow"] * 6 + ["fast"]
        results, threads = run_streams(serve, kinds[:6])
        wait_for(lambda: all(len(result.events) >= 3 for result in results), 20)
        late, late_threads = run_streams(serve, kinds[6:])  # ends within the grace period
        wait_for(late[0].headers_at.is_set, 10)
        assert serve.process is not None
        serve.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            ready = httpx.get(f"{serve.url}/readyz", timeout=1).status_code
        except httpx.TransportError:
            ready = None  # refused: the listener is already closed, which fails readiness too
        assert ready in (503, None)
        for thread in threads + late_threads:
            thread.join(15)
        drained = time.monotonic() - signalled
        serve.process.wait(15)
    finally:
        serve.stop()
    assert 1.0 <= drained < 1.0 + 2.0
    for result in results:
        assert result.events[-3:] == ["error", "billing", "done"], result.events
        assert result.error is not None and result.error["code"] == "shutting_down"
    assert late[0].events[-1] == "done" and "error" not in late[0].events
    rows = serve.rows()
    statuses = sorted(row["status"] for row in rows)
    assert statuses == ["completed"] + ["shutdown"] * 6  # flushed before the database closed
    assert {row["request_id"] for row in rows} == {result.request_id for result in results + late}
    assert fake.disconnects == 6
