"""`/v1/audio/speech` from OpenAI relayed chunk by chunk (adapters/openai/speech_relay.py),
over real sockets: the openai SDK streams it to a file while the fake vendor is still
sending; a vendor that stops mid-audio, or audio past `[media] max_output_bytes`, cuts the
client's answer (an incomplete body, never a short file that looks whole); a vendor that
fails before any audio is a clear 502."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.openai import FAKE_MP3
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import VENDOR_KEY, Vendors, gateway_config, ledger_rows, openai_client

CHUNK = 1024
TEXT = "Relayed as it is spoken."
BODY = {"model": "openai/tts-1", "voice": "alloy", "input": TEXT}


def _audio_reply(**overrides: object) -> Reply:
    chunks = [FAKE_MP3[start : start + CHUNK] for start in range(0, len(FAKE_MP3), CHUNK)]
    reply = Reply(headers={"Content-Type": "audio/mpeg"}, events=chunks)
    for name, value in overrides.items():
        setattr(reply, name, value)
    return reply


def _read_until_cut(running: RunningGateway) -> tuple[httpx.Response, bytes]:
    """Status, headers and what arrived before the connection was cut (which must happen)."""
    received = b""
    with (
        running.client(**{"Provider-Key": VENDOR_KEY}) as client,
        client.stream("POST", "/v1/audio/speech", json=BODY) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        for chunk in response.iter_raw():
            received += chunk
    return response, received


def test_the_sdk_streams_relayed_speech_to_a_file(
    running: RunningGateway, fakes: dict[str, FakeVendor], tmp_path: Path
) -> None:
    fakes["openai"].enqueue(_audio_reply(event_delay=0.02))
    target = tmp_path / "speech.mp3"
    with (
        openai_client(running) as client,
        client.audio.speech.with_streaming_response.create(
            model="openai/tts-1", voice="alloy", input=TEXT
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/mpeg"
        headers = response.headers
        response.stream_to_file(target)
    assert target.read_bytes() == FAKE_MP3
    expected = Decimal(len(TEXT)) * 15 / 1_000_000
    assert Decimal(headers["inference-cost"]) == expected
    [row] = ledger_rows(running, headers["x-request-id"])
    assert row["status"] == "completed" and Decimal(repr(row["cost"])) == expected


def test_audio_is_relayed_before_the_vendor_has_finished(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    """The vendor drops the connection after 5,000 bytes: a gateway that held the audio whole
    could only answer an error; relaying, the client already has its 200 and those bytes."""
    fakes["openai"].enqueue(_audio_reply(cut_after=5000))
    response, received = _read_until_cut(running)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert 0 < len(received) <= 5000
    assert FAKE_MP3.startswith(received)


def test_a_vendor_failing_before_any_audio_is_a_502(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    fakes["openai"].enqueue(_audio_reply(cut_after=0))
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post("/v1/audio/speech", json=BODY)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "connection"
    assert VENDOR_KEY not in response.text


@pytest.fixture(scope="module")
def capped_gateway(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    config = gateway_config(f"[media]\nmax_output_bytes = {3 * CHUNK}\n")
    server, running = start_gateway(tmp_path_factory.mktemp("relay-capped"), vendors.environ, config)
    yield running
    server.stop()


def test_the_cap_cuts_the_relayed_audio_where_it_is_passed(
    capped_gateway: RunningGateway, vendors: Vendors
) -> None:
    vendors.clear()
    vendors.fakes["openai"].enqueue(_audio_reply(event_delay=0.05))  # chunk by chunk on the wire
    response, received = _read_until_cut(capped_gateway)
    assert response.status_code == 200
    # what arrived fits under the cap, and is the audio's start: nothing past the cap was sent
    assert 0 < len(received) <= 3 * CHUNK
    assert FAKE_MP3.startswith(received)


def test_audio_declared_over_the_cap_is_413_before_it_starts(
    capped_gateway: RunningGateway, vendors: Vendors
) -> None:
    vendors.clear()
    vendors.fakes["openai"].enqueue(Reply(headers={"Content-Type": "audio/mpeg"}, body=FAKE_MP3))
    with capped_gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post("/v1/audio/speech", json=BODY)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "output_too_large"
