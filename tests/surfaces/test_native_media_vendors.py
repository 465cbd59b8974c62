"""OpenAI's media models on the native surface by id (`POST /models/v2/openai/gpt-image-1`),
with the caller's Provider-Key, to the fake OpenAI: the Bytez shapes back (`output_png`,
`output_mp3`, `{"text"}`), raw bytes with `"json": false`, the vendor's price; a `url` to
transcribe fetched by the gateway through the SSRF-safe fetcher; `list/models?task=`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.openai import FAKE_MP3, FAKE_PNG, FAKE_WAV, IMAGE_USAGE, TRANSCRIPT, form_parts
from tests.fakes.server import FakeVendor, Received, Reply, ServerThread
from tests.surfaces.conftest import VENDOR_KEY, Vendors, gateway_config, ledger_rows

ENVELOPE_KEYS = {"error", "code", "output", "usage", "billing", "provider", "warnings", "id", "model"}
WAV_URL_PATH = "/clips/speech.wav"


def run(running: RunningGateway, model: str, body: dict[str, Any]) -> Any:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        return client.post(f"/models/v2/{model}", json=body)


def test_gpt_image_1_answers_output_png_with_its_token_usage_and_cost(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    response = run(running, "openai/gpt-image-1", {"text": "a fox", "params": {"quality": "low"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["model"] == "openai/gpt-image-1" and body["error"] is None
    assert base64.b64decode(body["output"]["output_png"]) == FAKE_PNG
    assert body["usage"] == {"input_tokens": 50, "output_tokens": IMAGE_USAGE["output_tokens"]}
    expected = (Decimal(50) * 5 + Decimal(IMAGE_USAGE["output_tokens"]) * 40) / 1_000_000
    assert Decimal(repr(body["billing"]["cost"])) == expected
    assert fakes["openai"].last.json() == {"model": "gpt-image-1", "prompt": "a fox", "quality": "low"}
    assert fakes["openai"].last.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    rows = ledger_rows(running, body["id"])
    assert rows[0]["status"] == "completed" and rows[0]["provider"] == "openai"


def test_dall_e_3_is_asked_for_base64_and_priced_by_quality_and_size(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    response = run(
        running, "openai/dall-e-3", {"text": "a fox", "params": {"quality": "hd", "size": "1024x1792"}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert base64.b64decode(body["output"]["output_png"]) == FAKE_PNG
    assert body["usage"] is None
    assert Decimal(repr(body["billing"]["cost"])) == Decimal("0.12")
    assert fakes["openai"].last.json()["response_format"] == "b64_json"


def test_json_false_answers_the_image_bytes(running: RunningGateway) -> None:
    response = run(running, "openai/dall-e-2", {"text": "a fox", "json": False})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content == FAKE_PNG
    assert Decimal(response.headers["inference-cost"]) == Decimal("0.02")


def test_tts_1_answers_output_mp3_or_the_raw_audio(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    text = "Hello from the native surface"
    response = run(running, "openai/tts-1", {"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] is None and body["code"] is None
    assert base64.b64decode(body["output"]["output_mp3"]) == FAKE_MP3
    assert Decimal(repr(body["billing"]["cost"])) == Decimal(len(text)) * 15 / 1_000_000
    assert fakes["openai"].last.json() == {"model": "tts-1", "input": text, "voice": "alloy"}
    raw = run(running, "openai/tts-1", {"text": text, "json": False, "params": {"voice": "nova"}})
    assert raw.headers["content-type"] == "audio/mpeg" and raw.content == FAKE_MP3
    assert fakes["openai"].last.json()["voice"] == "nova"


def test_whisper_1_transcribes_base64_audio(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    data_url = "data:audio/wav;base64," + base64.b64encode(FAKE_WAV).decode()
    response = run(running, "openai/whisper-1", {"base64": data_url, "params": {"language": "en"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] is None and body["code"] is None
    assert body["output"] == {"text": TRANSCRIPT}
    assert Decimal(repr(body["billing"]["cost"])) == Decimal("0.0004")
    parts = {part.name: part for part in form_parts(fakes["openai"].last)}
    assert parts["file"].data == FAKE_WAV and parts["file"].content_type == "audio/wav"
    assert parts["model"].data == b"whisper-1" and parts["language"].data == b"en"
    assert parts["response_format"].data == b"json"


@pytest.mark.parametrize(
    ("model", "body", "status", "code"),
    [
        ("openai/whisper-1", {"url": "https://example.com/page.html"}, 415, "unsupported_media_type"),
        ("openai/whisper-1", {"base64": "data:audio/wav;base64,UklGRiQAAABXQVZ"}, 400, "invalid_request"),
        ("openai/whisper-1", {"base64": "data:image/png;base64,iVBORw0KGgo="}, 415, "unsupported_media_type"),
        ("openai/tts-1", {"url": "https://example.com/a.wav"}, 400, "invalid_request"),
    ],
)
def test_bad_media_input_is_refused_before_openai_is_called(
    running: RunningGateway,
    fakes: dict[str, FakeVendor],
    model: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = run(running, model, body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert fakes["openai"].received == []


def test_the_catalogue_lists_media_models_by_task(running: RunningGateway) -> None:
    with running.client() as client:
        speech = client.get("/models/v2/list/models", params={"task": "text-to-speech"}).json()["output"]
        images = client.get("/models/v2/list/models", params={"task": "text-to-image"}).json()["output"]
        tasks = client.get("/models/v2/list/tasks").json()["output"]
    assert {entry["modelId"] for entry in speech} >= {"openai/tts-1", "openai/tts-1-hd"}
    assert all(entry["task"] == "text-to-speech" for entry in speech)
    assert {entry["modelId"] for entry in images} >= {
        "openai/gpt-image-1",
        "openai/dall-e-3",
        "openai/dall-e-2",
    }
    assert {"text-to-image", "text-to-speech", "automatic-speech-recognition"} <= set(tasks)


# -- a `url` to transcribe: fetched by the gateway, SSRF-safe, since OpenAI takes only bytes ----


@pytest.fixture
def audio_host() -> Iterator[tuple[FakeVendor, str]]:
    def respond(request: Received) -> Reply:
        if request.path == WAV_URL_PATH:
            return Reply(headers={"Content-Type": "audio/wav"}, body=FAKE_WAV)
        return Reply(status=200, headers={"Content-Type": "text/html"}, body=b"<html>not audio</html>")

    host = FakeVendor(respond)
    server = ServerThread(host, lifespan="off").start()
    yield host, server.url
    server.stop()


@pytest.fixture
def fetching_gateway(
    vendors: Vendors, tmp_path: Path, audio_host: tuple[FakeVendor, str]
) -> Iterator[RunningGateway]:
    port = audio_host[1].rsplit(":", 1)[1]
    config = gateway_config(f'[media]\nallow_private = ["127.0.0.1"]\nports = [{port}]\n')
    server, running = start_gateway(tmp_path, vendors.environ, config)
    vendors.clear()
    yield running
    server.stop()


def test_a_url_is_fetched_by_the_gateway_and_sent_as_the_file(
    fetching_gateway: RunningGateway, fakes: dict[str, FakeVendor], audio_host: tuple[FakeVendor, str]
) -> None:
    host, url = audio_host
    response = run(fetching_gateway, "openai/whisper-1", {"url": url + WAV_URL_PATH})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"text": TRANSCRIPT}
    assert [request.path for request in host.received] == [WAV_URL_PATH]
    parts = {part.name: part for part in form_parts(fakes["openai"].last)}
    assert parts["file"].data == FAKE_WAV and parts["file"].content_type == "audio/wav"


def test_a_url_that_is_not_audio_fails_the_fetch_and_nothing_reaches_openai(
    fetching_gateway: RunningGateway, fakes: dict[str, FakeVendor], audio_host: tuple[FakeVendor, str]
) -> None:
    _, url = audio_host
    response = run(fetching_gateway, "openai/whisper-1", {"url": url + "/clips/talk"})
    assert response.status_code == 400, response.text
    assert "text/html" in response.json()["error"]
    assert fakes["openai"].received == []


def test_the_openai_surface_fetches_a_json_file_url_too(
    fetching_gateway: RunningGateway, fakes: dict[str, FakeVendor], audio_host: tuple[FakeVendor, str]
) -> None:
    _, url = audio_host
    with fetching_gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(
            "/v1/audio/transcriptions", json={"model": "openai/whisper-1", "file": url + WAV_URL_PATH}
        )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == TRANSCRIPT
    parts = {part.name: part for part in form_parts(fakes["openai"].last)}
    assert parts["file"].data == FAKE_WAV and parts["file"].content_type == "audio/wav"
