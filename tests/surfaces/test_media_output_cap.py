"""`[media] max_output_bytes` caps what the vendors' media models bring back, as it caps a
Bytez container's (tests/pools/test_bytez_media.py): a gateway configured at 64 bytes
refuses the fakes' 73-byte PNG and 10 KiB MP3 with 413 `output_too_large` on both
surfaces, for OpenAI and Gemini alike, and the ledger row is not a completed call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import VENDOR_KEY, Vendors, gateway_config, ledger_rows

CAP = 64


@pytest.fixture(scope="module")
def capped_gateway(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    config = gateway_config(f"[media]\nmax_output_bytes = {CAP}\n")
    server, running = start_gateway(tmp_path_factory.mktemp("capped"), vendors.environ, config)
    yield running
    server.stop()


@pytest.fixture
def capped(capped_gateway: RunningGateway, vendors: Vendors) -> RunningGateway:
    vendors.clear()
    return capped_gateway


def _post(running: RunningGateway, path: str, body: dict[str, Any]) -> httpx.Response:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        return client.post(path, json=body)


def _refused(running: RunningGateway, response: httpx.Response, provider: str) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    error = body["error"]
    code, message = (error["code"], error["message"]) if isinstance(error, dict) else (body["code"], error)
    assert code == "output_too_large"
    assert f"{provider} generated media larger than [media] max_output_bytes ({CAP} bytes)" in message
    assert VENDOR_KEY not in response.text
    rows = ledger_rows(running, response.headers["x-request-id"])
    assert [row["status"] for row in rows] != ["completed"]


@pytest.mark.parametrize(
    ("path", "body", "provider"),
    [
        ("/v1/images/generations", {"model": "openai/gpt-image-1", "prompt": "a fox"}, "openai"),
        (
            "/v1/images/generations",
            {"model": "openai/dall-e-3", "prompt": "a fox", "response_format": "b64_json"},
            "openai",
        ),
        ("/models/v2/openai/dall-e-3", {"text": "a fox"}, "openai"),
        ("/models/v2/openai/dall-e-3", {"text": "a fox", "json": False}, "openai"),
        ("/v1/audio/speech", {"model": "openai/tts-1", "voice": "alloy", "input": "Hello"}, "openai"),
        ("/models/v2/openai/tts-1", {"text": "Hello"}, "openai"),
        ("/models/v2/openai/tts-1", {"text": "Hello", "json": False}, "openai"),
        ("/v1/images/generations", {"model": "google/gemini-2.5-flash-image", "prompt": "a fox"}, "gemini"),
        ("/models/v2/google/gemini-2.5-flash-image", {"text": "a fox", "json": False}, "gemini"),
    ],
)
def test_vendor_media_past_the_cap_is_413(
    capped: RunningGateway, fakes: dict[str, FakeVendor], path: str, body: dict[str, Any], provider: str
) -> None:
    response = _post(capped, path, body)
    _refused(capped, response, provider)
    assert fakes[provider].received  # the vendor was called: its answer is what was too large


def test_media_under_the_cap_still_answers(capped: RunningGateway) -> None:
    """A transcript is text, not generated media: the same gateway serves it."""
    with capped.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(
            "/v1/audio/transcriptions",
            data={"model": "openai/whisper-1"},
            files={"file": ("clip.wav", b"RIFF" + bytes(40), "audio/wav")},
        )
    assert response.status_code == 200, response.text
