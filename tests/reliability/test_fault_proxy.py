"""The fault proxy's toxics do what they say, seen from a raw socket: a tool the other
scenarios trust has to be able to fail too."""

from __future__ import annotations

import socket
import time

import pytest

from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.server import FakeVendor, Reply

BODY = b"x" * 10_000
REQUEST = b"GET /v1/models HTTP/1.1\r\nhost: fake\r\nauthorization: Bearer k\r\n\r\n"


def exchange(proxy: FaultProxy, timeout: float = 5.0) -> tuple[bytes, BaseException | None]:
    """Send one request; read until the proxy closes. Returns what arrived and how it ended."""
    received = b""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as connection:
        connection.sendall(REQUEST)
        try:
            while chunk := connection.recv(65536):
                received += chunk
                if received.endswith(BODY):
                    return received, None
        except OSError as error:
            return received, error
    return received, EOFError()


@pytest.fixture
def vendor(openai_fake: FakeVendor) -> FakeVendor:
    openai_fake.responder = lambda _: Reply(headers={"Content-Type": "text/plain"}, body=BODY)
    return openai_fake


@pytest.mark.timeout(10)
def test_clean_pass_through(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    received, ended = exchange(fault_proxy)
    assert ended is None
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(BODY)
    assert fault_proxy.connections == 1 and fault_proxy.bytes_down == len(received)
    assert bytes(fault_proxy.responses[-1]) == received


@pytest.mark.timeout(10)
def test_latency_and_bandwidth_slow_the_response(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.toxics.latency = 0.3
    started = time.monotonic()
    exchange(fault_proxy)
    assert time.monotonic() - started >= 0.3
    fault_proxy.toxics.latency = 0.0
    fault_proxy.toxics.bandwidth = 25_000
    started = time.monotonic()
    received, ended = exchange(fault_proxy)
    assert ended is None and received.endswith(BODY)
    assert time.monotonic() - started >= len(BODY) / 25_000 * 0.9


@pytest.mark.timeout(10)
def test_slicer_sends_tiny_segments(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.toxics.slice_size = 500
    fault_proxy.toxics.slice_delay = 0.01
    started = time.monotonic()
    received, ended = exchange(fault_proxy)
    assert ended is None and received.endswith(BODY)
    assert time.monotonic() - started >= (len(BODY) // 500 - 2) * 0.01


@pytest.mark.timeout(10)
def test_limit_data_closes_cleanly_after_n_bytes(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.toxics.limit_data = 1234
    received, ended = exchange(fault_proxy)
    assert len(received) == 1234
    assert isinstance(ended, EOFError)  # a FIN, not a reset


@pytest.mark.timeout(10)
def test_reset_peer_resets_after_n_bytes(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.toxics.reset_peer = 1234
    received, ended = exchange(fault_proxy)
    assert len(received) <= 1234
    assert isinstance(ended, ConnectionResetError)


@pytest.mark.timeout(10)
def test_black_hole_accepts_and_never_answers(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.toxics.black_hole = True
    received, ended = exchange(fault_proxy, timeout=0.5)
    assert received == b""
    assert isinstance(ended, TimeoutError)
    assert fault_proxy.connections == 1
    assert vendor.received == []


@pytest.mark.timeout(10)
def test_down_refuses_and_up_serves_again(vendor: FakeVendor, fault_proxy: FaultProxy) -> None:
    fault_proxy.down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", fault_proxy.port), timeout=2).close()
    fault_proxy.up()
    received, ended = exchange(fault_proxy)
    assert ended is None and received.endswith(BODY)


@pytest.mark.timeout(10)
def test_reset_all_resets_open_connections(openai_fake: FakeVendor, fault_proxy: FaultProxy) -> None:
    openai_fake.responder = lambda _: Reply(events=[b"a", b"b"], stall_after=1, stall=10)
    with socket.create_connection(("127.0.0.1", fault_proxy.port), timeout=5) as connection:
        connection.sendall(REQUEST)
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        fault_proxy.reset_all()
        with pytest.raises(ConnectionResetError):
            while connection.recv(65536):
                pass
    deadline = time.monotonic() + 2
    while openai_fake.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert openai_fake.disconnects == 1  # the vendor's side was closed too
