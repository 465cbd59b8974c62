"""All five fake vendors on real sockets, and gateways whose base URLs point at them, for tests
that drive the compatible surfaces with the official openai and anthropic SDKs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from proxy.storage import sqlite_path
from tests.conftest import RunningGateway, start_gateway
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import cohere as fake_cohere
from tests.fakes import gemini as fake_gemini
from tests.fakes import mistral as fake_mistral
from tests.fakes import openai as fake_openai
from tests.fakes.kit import VendorKit
from tests.fakes.server import FakeVendor, ServerThread

VENDOR_KEY = "sk-test-vendor-key-0042"
KITS: dict[str, VendorKit] = {
    "openai": fake_openai.KIT,
    "anthropic": fake_anthropic.KIT,
    "gemini": fake_gemini.KIT,
    "cohere": fake_cohere.KIT,
    "mistral": fake_mistral.KIT,
}
MODELS = {
    "openai": "openai/gpt-4.1-mini",
    "anthropic": "anthropic/claude-sonnet-4-5-20250929",
    "gemini": "google/gemini-2.5-flash",
    "cohere": "cohere/command-a-03-2025",
    "mistral": "mistral/mistral-small-latest",
}
EMBEDDING_MODELS = {
    "openai": "openai/text-embedding-3-small",
    "gemini": "google/gemini-embedding-001",
    "cohere": "cohere/embed-v4.0",
    "mistral": "mistral/mistral-embed",
}
PRICES = {
    MODELS["openai"]: (0.4, 1.6),
    MODELS["anthropic"]: (3.0, 15.0),
    EMBEDDING_MODELS["openai"]: (0.02, 0.0),
}
RETRY_ONCE = "[dispatch.retry]\nattempts = 1\n"
"""A scripted vendor failure reaches the client at once, not after the dispatcher's retries."""


def gateway_config(extra: str = "") -> str:
    prices = "".join(
        f'[prices."{model}"]\ninput = {price_in}\noutput = {price_out}\n'
        for model, (price_in, price_out) in PRICES.items()
    )
    return RETRY_ONCE + prices + extra


@dataclass
class Vendors:
    fakes: dict[str, FakeVendor]
    environ: dict[str, str]

    def clear(self) -> None:
        for fake in self.fakes.values():
            fake.clear()


@pytest.fixture(scope="session")
def vendors() -> Iterator[Vendors]:
    servers: list[ServerThread] = []
    fakes: dict[str, FakeVendor] = {}
    environ: dict[str, str] = {}
    for name, kit in KITS.items():
        fake = kit.make_fake()
        server = ServerThread(fake, lifespan="off").start()
        servers.append(server)
        fakes[name] = fake
        environ[f"UNIGATE_{name.upper()}_BASE_URL"] = kit.base_url(server.url)
    yield Vendors(fakes, environ)
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def surface_gateway(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    server, running = start_gateway(tmp_path_factory.mktemp("surfaces"), vendors.environ, gateway_config())
    yield running
    server.stop()


@pytest.fixture
def running(surface_gateway: RunningGateway, vendors: Vendors) -> RunningGateway:
    """The module's gateway, with every fake's script and records cleared."""
    vendors.clear()
    return surface_gateway


@pytest.fixture
def fakes(vendors: Vendors) -> dict[str, FakeVendor]:
    return vendors.fakes


def openai_client(gateway: RunningGateway, prefix: str = "/v1", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + prefix,
        api_key=gateway.key,
        default_headers={"Provider-Key": VENDOR_KEY, **headers},
        max_retries=0,
        timeout=10,
    )


def async_openai_client(gateway: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1",
        api_key=gateway.key,
        default_headers={"Provider-Key": VENDOR_KEY},
        max_retries=0,
        timeout=10,
    )


def anthropic_client(
    gateway: RunningGateway, api_key: str | None = None, **headers: str
) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=gateway.url,
        api_key=api_key or gateway.key,
        default_headers={"Provider-Key": VENDOR_KEY, **headers},
        max_retries=0,
        timeout=10,
    )


def _final_rows(gateway: RunningGateway, column: str, value: str) -> list[dict[str, Any]]:
    """The matching rows once none is `started` any more (the final row replaces that one)."""
    deadline = time.monotonic() + 5
    path = sqlite_path(gateway.settings.database_url)
    while True:
        with sqlite3.connect(path) as connection:
            connection.row_factory = sqlite3.Row
            query = f"SELECT * FROM usage WHERE {column} = ?"
            rows = [dict(row) for row in connection.execute(query, (value,))]
        if (rows and all(row["status"] != "started" for row in rows)) or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def ledger_rows(gateway: RunningGateway, request_id: str) -> list[dict[str, Any]]:
    return _final_rows(gateway, "request_id", request_id)


def model_rows(gateway: RunningGateway, model: str) -> list[dict[str, Any]]:
    return _final_rows(gateway, "model", model)
