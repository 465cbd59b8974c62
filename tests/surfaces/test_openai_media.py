"""OpenAI's media endpoints through unigate to the fake OpenAI, driven by the official openai
SDK: `images.generate`, `audio.speech.create` streamed to a file, `audio.transcriptions.create`
with a file upload; and the bad input refused before anything is sent."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.fakes.openai import FAKE_MP3, FAKE_PNG, FAKE_WAV, TRANSCRIPT, form_parts
from tests.fakes.server import FakeVendor, fixture_bytes
from tests.surfaces.conftest import VENDOR_KEY, ledger_rows, openai_client

MEDIA_PATHS = ("/v1/images/generations", "/v1/audio/speech", "/v1/audio/transcriptions")


def media_calls(fake: FakeVendor) -> list[str]:
    return [request.path for request in fake.received if request.path in MEDIA_PATHS]


@pytest.mark.parametrize("prefix", ["/v1", "/models/v2/openai/v1"])
def test_images_generate_passes_openai_through(
    running: RunningGateway, fakes: dict[str, FakeVendor], prefix: str
) -> None:
    with openai_client(running, prefix) as client:
        raw = client.images.with_raw_response.generate(
            model="openai/gpt-image-1", prompt="a lighthouse at dusk", size="1024x1536", quality="high", n=2
        )
    images = raw.parse()
    assert images.data is not None and len(images.data) == 2
    assert images.data[0].b64_json is not None
    assert base64.b64decode(images.data[0].b64_json) == FAKE_PNG
    assert images.usage is not None and images.usage.output_tokens == 8320
    assert images.size == "1024x1536" and images.quality == "high"
    sent = fakes["openai"].last
    assert sent.path == "/v1/images/generations"
    assert sent.json() == {
        "model": "gpt-image-1",
        "prompt": "a lighthouse at dusk",
        "size": "1024x1536",
        "quality": "high",
        "n": 2,
    }
    assert sent.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    request_id = raw.headers["x-request-id"]
    rows = ledger_rows(running, request_id)
    assert [row["status"] for row in rows] == ["completed"]
    assert rows[0]["provider"] == "openai" and rows[0]["output_tokens"] == 8320


def test_dall_e_urls_and_revised_prompt_come_back_as_openai_sent_them(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    with openai_client(running) as client:
        images = client.images.generate(model="openai/dall-e-3", prompt="a red fox", response_format="url")
    assert images.data is not None
    assert images.data[0].url is not None and images.data[0].url.startswith("https://")
    assert images.data[0].revised_prompt == "A detailed picture of a red fox"
    assert fakes["openai"].last.json()["model"] == "dall-e-3"


def test_speech_streams_to_a_file(
    running: RunningGateway, fakes: dict[str, FakeVendor], tmp_path: Path
) -> None:
    target = tmp_path / "speech.mp3"
    with (
        openai_client(running) as client,
        client.audio.speech.with_streaming_response.create(
            model="openai/tts-1", voice="alloy", input="Hello from unigate", speed=1.25
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/mpeg"
        request_id = response.headers["x-request-id"]
        response.stream_to_file(target)
    assert target.read_bytes() == FAKE_MP3
    sent = fakes["openai"].last.json()
    assert sent == {"model": "tts-1", "voice": "alloy", "input": "Hello from unigate", "speed": 1.25}
    assert [row["status"] for row in ledger_rows(running, request_id)] == ["completed"]


def test_speech_in_wav_keeps_its_type(running: RunningGateway) -> None:
    with openai_client(running) as client:
        audio = client.audio.speech.create(
            model="openai/tts-1", voice="nova", input="Hi", response_format="wav"
        )
    assert audio.content == FAKE_WAV
    assert audio.response.headers["content-type"] == "audio/wav"


def test_transcription_uploads_the_file(
    running: RunningGateway, fakes: dict[str, FakeVendor], tmp_path: Path
) -> None:
    recording = tmp_path / "speech.wav"
    recording.write_bytes(fixture_bytes("bytez/speech.wav"))
    with openai_client(running) as client, recording.open("rb") as file:
        transcript = client.audio.transcriptions.create(
            model="openai/whisper-1", file=file, language="en", temperature=0.2
        )
    assert transcript.text == TRANSCRIPT
    sent = fakes["openai"].last
    assert sent.path == "/v1/audio/transcriptions"
    parts = {part.name: part for part in form_parts(sent)}
    assert parts["file"].filename == "speech.wav"
    assert parts["file"].data == fixture_bytes("bytez/speech.wav")
    assert parts["model"].data == b"whisper-1"
    assert parts["language"].data == b"en"
    assert parts["temperature"].data == b"0.2"


@pytest.mark.parametrize(("answer", "expected"), [("text", TRANSCRIPT + "\n"), ("verbose_json", None)])
def test_transcription_formats_pass_through(
    running: RunningGateway, answer: str, expected: str | None
) -> None:
    with openai_client(running) as client:
        result = client.audio.transcriptions.create(
            model="openai/whisper-1",
            file=("clip.wav", FAKE_WAV, "audio/wav"),
            response_format=answer,  # type: ignore[arg-type]
        )
    if expected is not None:
        assert result == expected
    else:
        assert not isinstance(result, str)
        assert result.text == TRANSCRIPT
        assert result.duration == pytest.approx(3.2)  # type: ignore[union-attr]


# -- bad input: a 4xx with a stable code, nothing sent upstream ----------------------------------


def _post(running: RunningGateway, path: str, **kwargs: object) -> httpx.Response:
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        return client.post(path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/images/generations", {"model": "openai/gpt-image-1"}, 400, "invalid_request"),
        ("/v1/images/generations", {"prompt": "a fox"}, 400, "invalid_request"),
        (
            "/v1/images/generations",
            {"model": "openai/gpt-image-1", "prompt": "x", "n": 0},
            400,
            "invalid_request",
        ),
        ("/v1/images/generations", {"model": "openai/whisper-1", "prompt": "x"}, 400, "invalid_request"),
        (
            "/v1/images/generations",
            {"model": "anthropic/claude-sonnet-4-6", "prompt": "x"},
            400,
            "unsupported",
        ),
        ("/v1/audio/speech", {"model": "openai/tts-1", "voice": "alloy"}, 400, "invalid_request"),
        (
            "/v1/audio/speech",
            {"model": "openai/tts-1", "input": "x", "response_format": "ogg"},
            400,
            "invalid_request",
        ),
        (
            "/v1/audio/transcriptions",
            {"model": "openai/whisper-1", "file": "https://example.com/page.html"},
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/audio/transcriptions",
            {"model": "openai/whisper-1", "file": "data:text/plain;base64,aGVsbG8="},
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/audio/transcriptions",
            {"model": "openai/whisper-1", "file": "data:audio/wav;base64,UklGRiQAAABXQVZ"},
            400,
            "invalid_request",
        ),
        ("/v1/audio/transcriptions", {"model": "openai/whisper-1"}, 400, "invalid_request"),
    ],
)
def test_bad_json_bodies_are_refused_before_any_call(
    running: RunningGateway,
    fakes: dict[str, FakeVendor],
    path: str,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    response = _post(running, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert VENDOR_KEY not in response.text
    assert media_calls(fakes["openai"]) == []
    assert all(not fake.received for fake in fakes.values())


def test_an_upload_that_is_not_audio_is_415(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    response = _post(
        running,
        "/v1/audio/transcriptions",
        data={"model": "openai/whisper-1"},
        files={"file": ("notes.pdf", b"%PDF-1.7 not audio", "application/pdf")},
    )
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "application/pdf" in response.json()["error"]["message"]
    assert media_calls(fakes["openai"]) == []


def test_an_upload_without_a_file_is_400(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    response = _post(
        running,
        "/v1/audio/transcriptions",
        data={"model": "openai/whisper-1"},
        files={"other": ("a.wav", FAKE_WAV, "audio/wav")},
    )
    assert response.status_code == 400, response.text
    assert "file" in response.json()["error"]["message"]
    assert media_calls(fakes["openai"]) == []


def test_an_oversized_upload_is_413_before_it_is_read(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    cap = running.settings.config.media.max_upload_bytes
    boundary = "unigate-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nopenai/whisper-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body = head + bytes(cap) + f"\r\n--{boundary}--\r\n".encode()
    response = _post(
        running,
        "/v1/audio/transcriptions",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    payload = response.json()
    assert payload["error"]["code"] == "payload_too_large"
    assert "max_upload_bytes" in payload["error"]["message"]
    assert media_calls(fakes["openai"]) == []


def test_the_openai_sdk_sees_a_vendor_failure_as_its_error(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    from tests.fakes.server import Reply

    fakes["openai"].enqueue(
        Reply.json(
            {
                "error": {
                    "message": "Your request was rejected by the safety system.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "content_policy_violation",
                }
            },
            status=400,
        )
    )
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(model="openai/dall-e-3", prompt="something refused")
    assert "safety system" in str(raised.value)
    assert VENDOR_KEY not in str(raised.value)


def test_multipart_elsewhere_is_still_read_as_json(
    running: RunningGateway, fakes: dict[str, FakeVendor]
) -> None:
    """Only the upload path takes multipart: the body guard checks any other body as JSON."""
    response = _post(
        running,
        "/v1/embeddings",
        data={"model": "openai/text-embedding-3-small", "input": "x"},
        files={"file": ("a.wav", FAKE_WAV, "audio/wav")},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert all(not fake.received for fake in fakes.values())


# -- priced as OpenAI prices them (proxy/routing/catalogue_data/models.toml) --------------------


def _cost(raw_headers: httpx.Headers | dict[str, str]) -> Decimal | None:
    value = raw_headers.get("inference-cost")
    return Decimal(value) if value is not None else None


def _ledger_cost(running: RunningGateway, request_id: str) -> float | None:
    rows = ledger_rows(running, request_id)
    assert [row["status"] for row in rows] == ["completed"]
    cost: float | None = rows[0]["cost"]
    return cost


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Decimal("0.04")),  # standard 1024x1024, OpenAI's defaults
        ({"quality": "hd", "size": "1024x1792", "n": 2}, Decimal("0.24")),
        ({"quality": "standard", "size": "1792x1024"}, Decimal("0.08")),
        ({"size": "512x512"}, None),  # a size DALL·E 3 has no price for: unknown, never guessed
    ],
)
def test_dall_e_3_is_priced_per_image_by_quality_and_size(
    running: RunningGateway, fields: dict[str, object], expected: Decimal | None
) -> None:
    with openai_client(running) as client:
        raw = client.images.with_raw_response.generate(
            model="openai/dall-e-3",
            prompt="a fox",
            **fields,  # type: ignore[arg-type]
        )
    assert _cost(raw.headers) == expected
    cost = _ledger_cost(running, raw.headers["x-request-id"])
    assert (Decimal(repr(cost)) if cost is not None else None) == expected


def test_gpt_image_1_is_priced_by_the_tokens_it_reports(running: RunningGateway) -> None:
    with openai_client(running) as client:
        raw = client.images.with_raw_response.generate(model="openai/gpt-image-1", prompt="a fox", n=2)
    usage = raw.parse().usage
    assert usage is not None
    # USD 5 per million text input tokens, 40 per million image output tokens
    expected = (Decimal(usage.input_tokens) * 5 + Decimal(usage.output_tokens) * 40) / 1_000_000
    assert _cost(raw.headers) == expected == Decimal("0.33305")
    assert Decimal(repr(_ledger_cost(running, raw.headers["x-request-id"]))) == expected


def test_tts_1_is_priced_per_character(running: RunningGateway) -> None:
    text = "Priced by the character."
    with openai_client(running) as client:
        raw = client.audio.speech.with_raw_response.create(model="openai/tts-1", voice="alloy", input=text)
    expected = Decimal(len(text)) * 15 / 1_000_000
    assert _cost(raw.headers) == expected
    assert Decimal(repr(_ledger_cost(running, raw.headers["x-request-id"]))) == expected


def test_whisper_1_is_priced_by_the_seconds_it_reports(running: RunningGateway) -> None:
    with openai_client(running) as client:
        raw = client.audio.transcriptions.with_raw_response.create(
            model="openai/whisper-1", file=("clip.wav", FAKE_WAV, "audio/wav")
        )
    # the fake reports usage {"type": "duration", "seconds": 4}; USD 0.006 a minute
    assert _cost(raw.headers) == Decimal("0.0004")
    assert Decimal(repr(_ledger_cost(running, raw.headers["x-request-id"]))) == Decimal("0.0004")


def test_the_catalogue_lists_the_media_prices(running: RunningGateway) -> None:
    with running.client() as client:
        dall_e = client.get("/models/v2/list/models", params={"modelId": "openai/dall-e-3"}).json()["output"][
            0
        ]
        tts = client.get("/v1/models/openai/tts-1").json()
    assert dall_e["task"] == "text-to-image"
    assert dall_e["imagePrices"]["hd/1024x1792"] == 0.12
    assert tts["task"] == "text-to-speech" and tts["characterPrice"] == 15
