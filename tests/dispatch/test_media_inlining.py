"""Dispatch inlines media a vendor cannot take by URL, through the SSRF-safe fetcher."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.server import FakeVendor, Received, Reply, ServerThread

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


@pytest.fixture
def media_host() -> Iterator[tuple[FakeVendor, str]]:
    def serve(request: Received) -> Reply:
        if request.path == "/clip.wav":
            return Reply(headers={"Content-Type": "audio/wav"}, body=WAV)
        return Reply(status=404, body=b"no")

    host = FakeVendor(serve)
    server = ServerThread(host, lifespan="off").start()
    yield host, server.url
    server.stop()


def _gateway(
    tmp_path: Path, openai_url: str, media_url: str, allow: bool
) -> tuple[ServerThread, RunningGateway]:
    port = media_url.rsplit(":", 1)[1]
    media = f'[media]\nallow_private = ["127.0.0.1/32"]\nports = [{port}]\n' if allow else ""
    return start_gateway(tmp_path, {"UNIGATE_OPENAI_BASE_URL": f"{openai_url}/v1"}, media)


def _audio_request(url: str) -> dict[str, object]:
    return {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "transcribe"},
                    {"type": "audio", "url": f"{url}/clip.wav"},
                ],
            }
        ]
    }


def test_audio_by_url_reaches_openai_inline(
    tmp_path: Path,
    openai_vendor: tuple[FakeVendor, str],
    fake_openai_vendor: FakeVendor,
    media_host: tuple[FakeVendor, str],
) -> None:
    host, media_url = media_host
    server, gateway = _gateway(tmp_path, openai_vendor[1], media_url, allow=True)
    try:
        with gateway.client(**{"Provider-Key": "sk-media-test"}) as client:
            response = client.post("/models/v2/openai/gpt-4o-audio-preview", json=_audio_request(media_url))
        assert response.status_code == 200, response.text
        part = fake_openai_vendor.last.json()["messages"][0]["content"][1]
        assert part == {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(WAV).decode(), "format": "wav"},
        }
        assert [r.path for r in host.received] == ["/clip.wav"]
    finally:
        server.stop()


def test_a_private_media_url_is_refused_without_a_connection(
    tmp_path: Path,
    openai_vendor: tuple[FakeVendor, str],
    fake_openai_vendor: FakeVendor,
    media_host: tuple[FakeVendor, str],
) -> None:
    host, media_url = media_host
    server, gateway = _gateway(tmp_path, openai_vendor[1], media_url, allow=False)
    try:
        with gateway.client(**{"Provider-Key": "sk-media-test"}) as client:
            response = client.post("/models/v2/openai/gpt-4o-audio-preview", json=_audio_request(media_url))
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request"
        assert host.received == []
        assert fake_openai_vendor.received == []
    finally:
        server.stop()
