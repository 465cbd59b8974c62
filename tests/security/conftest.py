"""Gateways with the security knobs set, on real sockets, with the fake OpenAI behind them."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.server import FakeVendor, ServerThread
from tests.redis_server import real_redis_server

ADMIN_TOKEN = "admin-token-0123456789abcdefghij"
VENDOR_KEY = "sk-security-provider-key-0001"
MODEL = "/models/v2/openai/gpt-4o-mini"
SEED = {"messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 10}}
NO_RETRIES = "[dispatch.retry]\nattempts = 1\n"

MakeGateway = Callable[..., RunningGateway]


@pytest.fixture
def make_gateway(
    tmp_path: Path, openai_vendor: tuple[FakeVendor, str], fake_openai_vendor: FakeVendor
) -> Iterator[MakeGateway]:
    """Start a gateway with extra config text; each is stopped at teardown."""
    _, vendor_url = openai_vendor
    servers: list[ServerThread] = []

    def make(config: str = "", **environ: str) -> RunningGateway:
        directory = tmp_path / f"gateway-{len(servers)}"
        directory.mkdir()
        server, running = start_gateway(
            directory,
            {"UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1", **environ},
            NO_RETRIES + config,
        )
        servers.append(server)
        return running

    yield make
    for server in servers:
        server.stop()


def raw_request(url: str, payload: bytes, *, read_timeout: float = 5.0) -> bytes:
    """Send bytes as they are (no client-side validation) and read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as connection:
        connection.sendall(payload)
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@contextlib.contextmanager
def fake_redis_server() -> Iterator[str]:
    """A fake Redis (fakeredis, Lua included) on a real socket, that several gateways share;
    it is gone (connections refused) once the block ends."""
    import threading

    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, name="fake-redis", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"redis://{host!s}:{port}/0"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


REDIS_SERVERS = ["fakeredis", "redis-server"]


@contextlib.contextmanager
def redis_server(kind: str, directory: Path) -> Iterator[str]:
    """fakeredis (in this process) or a real `redis-server` (tests/redis_server.py)."""
    if kind == "fakeredis":
        with fake_redis_server() as url:
            yield url
    else:
        with real_redis_server(directory) as url:
            yield url


@pytest.fixture(params=REDIS_SERVERS)
def redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each Redis test runs twice: on fakeredis and on a real redis-server."""
    with redis_server(request.param, tmp_path) as url:
        yield url
