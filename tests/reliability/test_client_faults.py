"""C1-C4: clients that leave, read slowly, or never finish sending."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import msgspec
import pytest

from tests.conftest import RunningGateway
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.server import FakeVendor, Reply, ServerThread
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    BODY,
    CHAT,
    KEYS,
    OPENAI_ONLY,
    SSE,
    client,
    config,
    ledger,
    openai_frames,
    openai_stream,
    post,
    stream,
    wait_for,
)


@pytest.mark.timeout(20)
def test_c1_leaving_mid_stream_closes_the_vendor_connection_within_a_second(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(idle=5))
    openai_fake.enqueue(openai_stream(100, event_delay=0.05))
    result = stream(gateway, stop=lambda seen: seen.kinds.count("text_delta") == 3)
    left = time.monotonic()
    assert result.kinds == ["start", "text_delta", "text_delta", "text_delta"]
    closed = wait_for(lambda: openai_fake.disconnects == 1, 2)
    assert openai_fake.disconnect_times[0] - left < 1.0
    assert closed - left < 1.0
    assert openai_fake.completed == 0
    [row] = ledger(gateway)
    assert row["status"] == "client_disconnected"
    assert 3 <= row["output_tokens"] < 30  # what the vendor streamed until it was stopped
    assert row["cost"] == pytest.approx(row["output_tokens"] * 0.60 / 1e6)


def leave_while_waiting(gateway: RunningGateway, streamed: bool, wait: float = 0.4) -> float:
    """Send a request, give up after `wait` seconds without an answer; when the client left."""
    with client(gateway, timeout=httpx.Timeout(5, read=wait)) as http:
        try:
            http.post(CHAT, json={**BODY, "stream": streamed})
        except httpx.ReadTimeout:
            pass
        else:
            raise AssertionError("the gateway answered a request whose vendor never did")
    return time.monotonic()


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("streamed", "phase"),
    [(False, "before_headers"), (True, "before_headers"), (True, "after_headers")],
    ids=["json", "stream-before-headers", "stream-after-headers"],
)
def test_c2_leaving_before_the_first_token_cancels_the_vendor_call(
    make_gateway: GatewayFactory,
    openai_fake: FakeVendor,
    anthropic_fake: FakeVendor,
    streamed: bool,
    phase: str,
) -> None:
    gateway = make_gateway(config(first_byte=30, idle=30, total=60))
    if phase == "after_headers":
        reply = openai_stream(3, stall_after=0, stall=30)
    else:
        reply = openai_stream(3, delay=30) if streamed else Reply.fixture("openai/chat.json", delay=30)
    openai_fake.enqueue(reply)
    left = leave_while_waiting(gateway, streamed)
    wait_for(lambda: openai_fake.disconnects == 1, 2)
    assert openai_fake.disconnect_times[0] - left < 1.0
    assert anthropic_fake.received == []  # the client's leaving is not a reason to fall back
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"]) == ("client_disconnected", 1)


def big_stream(frames: int, size: int) -> list[bytes]:
    body = openai_frames(frames)
    filler = b"y" * size
    return [frame.replace(b'"content":"w', b'"content":"' + filler + b"w") for frame in body]


def raw_request(gateway: RunningGateway, receive_buffer: int) -> socket.socket:
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    connection.connect(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
    body = msgspec.json.encode({**BODY, "stream": True})
    headers = {"Authorization": f"Key {gateway.key}", **KEYS, "Content-Type": "application/json"}
    head = f"POST {OPENAI_ONLY} HTTP/1.1\r\nHost: gateway\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    connection.sendall(head.encode() + b"\r\n" + body)
    return connection


def read_all(connection: socket.socket, rate: float | None = None, slow_for: float = 0.0) -> bytes:
    """Read until the stream's last chunk; for the first `slow_for` seconds at most `rate`
    bytes per second."""
    received = bytearray()
    connection.settimeout(10)
    started = time.monotonic()
    while not received.endswith(b"0\r\n\r\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
        if rate and time.monotonic() - started < slow_for:
            time.sleep(len(chunk) / rate)
    return bytes(received)


@pytest.mark.timeout(30)
def test_c3_a_reader_that_stops_pauses_the_vendor_instead_of_buffering(
    make_gateway: GatewayFactory, openai_server: tuple[FakeVendor, ServerThread]
) -> None:
    openai_fake, openai = openai_server
    proxy = FaultProxy(openai.port, socket_buffer=64 * 1024).start()  # the proxy itself holds little
    try:
        gateway = make_gateway(config(idle=10, total=30), openai_url=proxy.url)
        frames = big_stream(12_000, 2500)
        total = sum(len(frame) for frame in frames)
        openai_fake.enqueue(Reply(headers=dict(SSE), events=frames))
        connection = raw_request(gateway, receive_buffer=16 * 1024)
        try:
            first = connection.recv(4096)
            assert first.startswith(b"HTTP/1.1 200")
            time.sleep(1.0)
            paused_at = proxy.bytes_down
            time.sleep(0.5)
            assert proxy.bytes_down - paused_at < 256 * 1024  # the vendor is held back ...
            assert paused_at < total / 2  # ... long before it could send everything (socket buffers)
            [relay] = gateway.gateway.dispatcher.relays
            assert len(relay._channel._items) <= 64  # what the gateway holds in Python: bounded
            received = first + read_all(connection)
        finally:
            connection.close()
        assert received.count(b"event: text_delta") == 12_000  # nothing lost once the reader is back
        assert b"event: done" in received and b"event: error" not in received
        assert proxy.bytes_down >= total
    finally:
        proxy.stop()


@pytest.mark.timeout(30)
def test_c3_the_total_timeout_ends_a_slow_readers_stream_on_both_sides(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(idle=10, total=1.5))
    # the vendor is faster than the reader, but still sending when the deadline comes
    openai_fake.enqueue(Reply(headers=dict(SSE), events=big_stream(8000, 1000), event_delay=0.0005))
    connection = raw_request(gateway, receive_buffer=16 * 1024)
    try:
        sent = time.monotonic()
        received = read_all(connection, rate=100_000, slow_for=2.5)
    finally:
        connection.close()
    assert openai_fake.disconnects == 1
    assert openai_fake.disconnect_times[0] - sent < 1.5 + 0.5  # the vendor was stopped at the deadline
    tail = received[-600:]
    assert b"event: error" in tail and b'"code":"timeout"' in tail and b"event: done" in tail
    assert received.count(b"event: text_delta") < 8000
    [row] = ledger(gateway)
    assert row["status"] == "timeout"
    assert row["output_tokens"] > 0


def trickle(port: int, stop: threading.Event, sockets: list[socket.socket]) -> None:
    """A slowloris client: headers one byte at a time, never finished."""
    connection = socket.create_connection(("127.0.0.1", port))
    sockets.append(connection)
    head = b"POST /models/v2/team/chat HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + b"a" * 1000
    for byte in head:
        if stop.wait(0.1):
            return
        try:
            connection.send(bytes([byte]))
        except OSError:
            return


@pytest.mark.timeout(20)
def test_c4_slowloris_clients_do_not_starve_the_others(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    port = int(gateway.url.rsplit(":", 1)[1])
    stop = threading.Event()
    sockets: list[socket.socket] = []
    threads = [threading.Thread(target=trickle, args=(port, stop, sockets)) for _ in range(50)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            with client(gateway) as http:
                assert http.get("/healthz").status_code == 200
                assert http.post(CHAT, json=BODY).status_code == 200
            assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for connection in sockets:
            connection.close()


@pytest.mark.timeout(20)
def test_c4_a_request_never_finished_is_closed_by_a_receipt_deadline(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(config(receipt_timeout=1.0))
    port = int(gateway.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"POST /models/v2/team/chat HTTP/1.1\r\nHost: gateway\r\n")
        connection.settimeout(3.0)  # the receipt deadline (1 s) closes it; uvicorn alone never would
        ended: Any
        try:
            ended = connection.recv(1)
        except TimeoutError:
            ended = None
    assert ended == b""  # the server closed the connection


@pytest.mark.timeout(30)
def test_c5_connections_beyond_the_limit_get_503_and_running_streams_go_on(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(max_connections=3, idle=5.0, total=20.0))
    openai_fake.enqueue(openai_stream(words=10, event_delay=0.1))
    results: list[Any] = []
    running = threading.Thread(target=lambda: results.append(stream(gateway)))
    running.start()
    assert wait_for(lambda: len(openai_fake.received) == 1)
    port = int(gateway.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)):
        time.sleep(0.1)  # one stream + one idle connection + this request = the limit
        with client(gateway) as http:
            refused = http.post(CHAT, json=BODY)
    assert refused.status_code == 503
    running.join(20)
    kinds = [kind for kind, _ in results[0].events]
    assert kinds[-2:] == ["billing", "done"]
    assert post(gateway).status_code == 200
