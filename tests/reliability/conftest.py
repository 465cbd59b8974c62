"""Fresh fake vendors per test (scripts and counters never leak between scenarios), a fault
proxy in front of the fake OpenAI, and a factory for gateways pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.anthropic import fake_anthropic
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.openai import fake_openai
from tests.fakes.server import FakeVendor, ServerThread


@pytest.fixture
def openai_server() -> Iterator[tuple[FakeVendor, ServerThread]]:
    vendor = fake_openai()
    server = ServerThread(vendor, lifespan="off").start()
    yield vendor, server
    server.stop()


@pytest.fixture
def openai_fake(openai_server: tuple[FakeVendor, ServerThread]) -> FakeVendor:
    return openai_server[0]


@pytest.fixture
def anthropic_server() -> Iterator[tuple[FakeVendor, ServerThread]]:
    vendor = fake_anthropic()
    server = ServerThread(vendor, lifespan="off").start()
    yield vendor, server
    server.stop()


@pytest.fixture
def anthropic_fake(anthropic_server: tuple[FakeVendor, ServerThread]) -> FakeVendor:
    return anthropic_server[0]


@pytest.fixture
def fault_proxy(openai_server: tuple[FakeVendor, ServerThread]) -> Iterator[FaultProxy]:
    """In front of the fake OpenAI."""
    proxy = FaultProxy(openai_server[1].port).start()
    yield proxy
    proxy.stop()


class Gateways:
    """`make_gateway(config_text, openai_url=...)`: a gateway on a real socket whose vendors
    are the fakes (or whatever `openai_url` names, a fault proxy say)."""

    def __init__(self, tmp_path: Path, vendors: tuple[ServerThread, ServerThread]) -> None:
        self._tmp_path = tmp_path
        self._vendors = vendors
        self._openai_url, self._anthropic_url = (vendor.url for vendor in vendors)
        self.servers: dict[str, ServerThread] = {}

    def __call__(
        self, config_text: str, openai_url: str | None = None, database_url: str | None = None
    ) -> RunningGateway:
        environ = {
            "UNIGATE_OPENAI_BASE_URL": f"{openai_url or self._openai_url}/v1",
            "UNIGATE_ANTHROPIC_BASE_URL": self._anthropic_url,
        }
        if database_url is not None:
            environ["UNIGATE_DATABASE_URL"] = database_url
        server, running = start_gateway(self._tmp_path, environ, config_text)
        self.servers[running.url] = server
        return running

    def call_soon(self, gateway: RunningGateway, callback: Callable[[], object]) -> None:
        """Run `callback` on the gateway's own event loop (its server thread)."""
        loop = self.servers[gateway.url].server.servers[0].get_loop()
        loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        """Stop the gateways, and the vendors with them: all at once, each stop polls."""
        servers = [*self.servers.values(), *self._vendors]
        for server in servers:
            server.server.should_exit = True
        for server in self.servers.values():
            server.stop()


GatewayFactory = Gateways


@pytest.fixture
def make_gateway(
    tmp_path: Path,
    openai_server: tuple[FakeVendor, ServerThread],
    anthropic_server: tuple[FakeVendor, ServerThread],
) -> Iterator[Gateways]:
    gateways = Gateways(tmp_path, (openai_server[1], anthropic_server[1]))
    yield gateways
    gateways.stop()
