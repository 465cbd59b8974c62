"""OpenAI's token-billed media models: gpt-4o-mini-tts (text in, audio tokens out, told on
the `speech.audio.done` event, so unigate asks for `stream_format: sse` and answers the
audio) and gpt-4o-transcribe / gpt-4o-mini-transcribe (audio input tokens priced apart
from the prompt's text), metered exactly from what the fake vendor reports, through the
official openai SDK and the native surface."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import FAKE_MP3, FAKE_WAV, SPEECH_USAGE, TRANSCRIBE_USAGE, TRANSCRIPT
from tests.fakes.server import FakeVendor, Reply
from tests.surfaces.conftest import VENDOR_KEY, ledger_rows, openai_client

MILLION = Decimal(1_000_000)
TTS_COST = (SPEECH_USAGE["input_tokens"] * Decimal("0.60") + SPEECH_USAGE["output_tokens"] * 12) / MILLION
"""USD 0.60 per million text input tokens, 12 per million audio output tokens."""


def _transcribe_cost(text_price: str, audio_price: str, output_price: str) -> Decimal:
    details = TRANSCRIBE_USAGE["input_token_details"]
    assert isinstance(details, dict)
    return (
        details["text_tokens"] * Decimal(text_price)
        + details["audio_tokens"] * Decimal(audio_price)
        + int(str(TRANSCRIBE_USAGE["output_tokens"])) * Decimal(output_price)
    ) / MILLION


def _row(running: RunningGateway, request_id: str) -> dict[str, object]:
    [row] = ledger_rows(running, request_id)
    assert row["status"] == "completed"
    return row


def test_gpt_4o_mini_tts_streams_to_a_file_and_is_billed_by_its_tokens(
    running: RunningGateway, fakes: dict[str, FakeVendor], tmp_path: Path
) -> None:
    target = tmp_path / "speech.mp3"
    with (
        openai_client(running) as client,
        client.audio.speech.with_streaming_response.create(
            model="openai/gpt-4o-mini-tts", voice="coral", input="Hello from unigate", instructions="cheerful"
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/mpeg"
        headers = response.headers
        response.stream_to_file(target)
    assert target.read_bytes() == FAKE_MP3
    sent = fakes["openai"].last.json()
    assert sent == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": "Hello from unigate",
        "instructions": "cheerful",
        "stream_format": "sse",
    }
    assert Decimal(headers["inference-cost"]) == TTS_COST
    row = _row(running, headers["x-request-id"])
    assert (row["input_tokens"], row["output_tokens"]) == (14, 101)
    assert Decimal(repr(row["cost"])) == TTS_COST


def test_tts_1_is_not_asked_for_events(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with openai_client(running) as client:
        audio = client.audio.speech.create(model="openai/tts-1", voice="alloy", input="Hi")
    assert audio.content == FAKE_MP3
    assert "stream_format" not in fakes["openai"].last.json()


@pytest.mark.parametrize("as_json", [True, False])
def test_native_gpt_4o_mini_tts_answers_the_audio_and_its_tokens(
    running: RunningGateway, as_json: bool
) -> None:
    body: dict[str, object] = {"text": "Hello"} if as_json else {"text": "Hello", "json": False}
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post("/models/v2/openai/gpt-4o-mini-tts", json=body)
    assert response.status_code == 200, response.text
    if as_json:
        answer = response.json()
        assert base64.b64decode(answer["output"]["output_mp3"]) == FAKE_MP3
        assert answer["usage"] == {"input_tokens": 14, "output_tokens": 101}
        assert Decimal(repr(answer["billing"]["cost"])) == TTS_COST
    else:
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.content == FAKE_MP3
        assert Decimal(response.headers["inference-cost"]) == TTS_COST


def test_speech_events_without_their_end_are_a_502(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    delta = b'data: {"type": "speech.audio.delta", "audio": "SUQz"}\n\n'
    fakes["openai"].enqueue(Reply(headers={"Content-Type": "text/event-stream"}, events=[delta]))
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(
            "/v1/audio/speech", json={"model": "openai/gpt-4o-mini-tts", "input": "x", "voice": "alloy"}
        )
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "connection"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-transcribe", _transcribe_cost("2.50", "6.00", "10.00")),
        ("gpt-4o-mini-transcribe", _transcribe_cost("1.25", "3.00", "5.00")),
    ],
)
def test_transcribe_models_bill_audio_tokens_apart_from_text(
    running: RunningGateway, fakes: dict[str, FakeVendor], model: str, expected: Decimal
) -> None:
    with openai_client(running) as client:
        raw = client.audio.transcriptions.with_raw_response.create(
            model=f"openai/{model}", file=("clip.wav", FAKE_WAV, "audio/wav"), prompt="A dream."
        )
    assert raw.parse().text == TRANSCRIPT
    assert Decimal(raw.headers["inference-cost"]) == expected
    row = _row(running, raw.headers["x-request-id"])
    assert (row["input_tokens"], row["output_tokens"]) == (31, 9)
    assert Decimal(repr(row["cost"])) == expected


def test_native_transcription_by_tokens(running: RunningGateway) -> None:
    data_url = "data:audio/wav;base64," + base64.b64encode(FAKE_WAV).decode()
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post("/models/v2/openai/gpt-4o-transcribe", json={"base64": data_url})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["output"] == {"text": TRANSCRIPT}
    assert answer["usage"] == {"input_tokens": 31, "output_tokens": 9}
    assert Decimal(repr(answer["billing"]["cost"])) == _transcribe_cost("2.50", "6.00", "10.00")


def test_the_catalogue_lists_the_token_prices(running: RunningGateway) -> None:
    with running.client() as client:
        listed = client.get("/models/v2/list/models", params={"modelId": "openai/gpt-4o-transcribe"}).json()
        tts = client.get("/v1/models/openai/gpt-4o-mini-tts").json()
    entry = listed["output"][0]
    assert entry["task"] == "automatic-speech-recognition"
    assert (entry["inputPrice"], entry["audioInputPrice"], entry["outputPrice"]) == (2.5, 6.0, 10.0)
    assert tts["task"] == "text-to-speech" and (tts["inputPrice"], tts["outputPrice"]) == (0.6, 12.0)
