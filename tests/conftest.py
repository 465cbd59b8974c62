from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from proxy.app import create_app
from proxy.gateway import Gateway
from proxy.server.protocol import ReceiptDeadlineProtocol
from proxy.settings import Settings, load_settings
from tests.fakes.openai import fake_openai
from tests.fakes.server import FakeVendor, ServerThread

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
"""Without it a sync client's request body waits ~40 ms for a delayed ACK (Nagle)."""


@dataclass
class RunningGateway:
    url: str
    key: str
    settings: Settings
    gateway: Gateway

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Key {self.key}", **headers},
            timeout=10,
            transport=httpx.HTTPTransport(socket_options=NODELAY),
        )


@pytest.fixture(scope="session")
def openai_vendor() -> Iterator[tuple[FakeVendor, str]]:
    vendor = fake_openai()
    server = ServerThread(vendor, lifespan="off").start()
    yield vendor, server.url
    server.stop()


@pytest.fixture
def fake_openai_vendor(openai_vendor: tuple[FakeVendor, str]) -> FakeVendor:
    vendor, _ = openai_vendor
    vendor.clear()
    return vendor


def start_gateway(
    tmp_path: Path, environ: dict[str, str], config_text: str = ""
) -> tuple[ServerThread, RunningGateway]:
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    settings = load_settings(
        config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'unigate.db'}", **environ}
    )
    gateway = Gateway(settings)
    _, key = gateway.keys.create("tests")
    # the production protocol (httptools + request-receipt deadline), as `unigate serve` runs it
    ReceiptDeadlineProtocol.deadline = settings.config.server.receipt_timeout
    server = ServerThread(
        create_app(settings, gateway),
        http=ReceiptDeadlineProtocol,
        limit_concurrency=settings.config.server.max_connections,
    ).start()
    return server, RunningGateway(server.url, key, settings, gateway)


@pytest.fixture
def gateway(
    tmp_path: Path, openai_vendor: tuple[FakeVendor, str], fake_openai_vendor: FakeVendor
) -> Iterator[RunningGateway]:
    _, vendor_url = openai_vendor
    config = '[prices."openai/gpt-4o-mini"]\ninput = 0.15\ncached_input = 0.075\noutput = 0.60\n'
    server, running = start_gateway(tmp_path, {"UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1"}, config)
    yield running
    server.stop()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


pytest_plugins = ["tests.postgres"]
