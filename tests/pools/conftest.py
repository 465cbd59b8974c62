"""Fake workers on real sockets and gateways whose pools point at them."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from proxy.storage import sqlite_path
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.bytez import FakeBytez
from tests.fakes.server import FakeVendor, ServerThread
from tests.fakes.vllm import FakeVLLM

CHAT_MODEL = "NousResearch/Hermes-3-Llama-3.1-8B"
GPT2 = "openai-community/gpt2"


def refusing_url() -> str:
    """An address on this machine where nothing listens: connections are refused at once."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


class Servers:
    """Starts fake workers for one test and stops them after it."""

    def __init__(self) -> None:
        self._threads: list[ServerThread] = []

    def serve(self, fake: FakeVendor) -> str:
        thread = ServerThread(fake, lifespan="off").start()
        self._threads.append(thread)
        return thread.url

    def stop(self) -> None:
        for thread in self._threads:
            thread.stop()


@pytest.fixture
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.stop()


GatewayFactory = Callable[..., RunningGateway]


@pytest.fixture
def pool_gateway(tmp_path: Path) -> Iterator[GatewayFactory]:
    """`pool_gateway(config_text)` starts a gateway with that config; it stops after the test."""
    threads: list[ServerThread] = []

    def start(config_text: str, environ: dict[str, str] | None = None) -> RunningGateway:
        thread, running = start_gateway(tmp_path, environ or {}, config_text)
        threads.append(thread)
        return running

    yield start
    for thread in threads:
        thread.stop()


def pool_toml(name: str, urls: list[str], **fields: Any) -> str:
    lines = [f"[[pools]]\nname = {name!r}\nurls = {msgspec.json.encode(urls).decode()}"]
    for key, value in fields.items():
        lines.append(f"{key} = {msgspec.json.encode(value).decode()}")
    return "\n".join(lines) + "\n"


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in raw.split("\n\n"):
        lines = [line for line in frame.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        events.append((fields["event"], msgspec.json.decode(fields["data"])))
    return events


def ledger_rows(gateway: RunningGateway, count: int = 1) -> list[dict[str, Any]]:
    """The finished rows, once at least `count` are there (the ledger writes from a thread)."""
    deadline = time.monotonic() + 5
    path = sqlite_path(gateway.settings.database_url)
    while True:
        with sqlite3.connect(path) as connection:
            connection.row_factory = sqlite3.Row
            rows = [
                dict(row)
                for row in connection.execute(
                    "SELECT * FROM usage WHERE status != 'started' ORDER BY started_at"
                )
            ]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def vllm() -> FakeVLLM:
    return FakeVLLM()


@pytest.fixture
def bytez() -> FakeBytez:
    return FakeBytez()


def assert_billing(billing: dict[str, Any], meter: str, price: float) -> None:
    """Present, and consistent: cost = meter price × inference time (to the cost's rounding)."""
    assert billing["meter"] == meter
    assert billing["meter_price"] == price
    assert billing["inference_time"] > 0
    assert billing["cost"] == pytest.approx(price * billing["inference_time"], rel=0, abs=1e-10)
