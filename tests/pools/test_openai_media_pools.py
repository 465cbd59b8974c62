"""OpenAI's media endpoints on worker pools, driven by the official openai SDK: a Bytez
container (the surface translates to its task request and back) and an OpenAI-protocol
media server (LocalAI, Speaches: the body passes through), gateway and workers on real
sockets. Pools bill meter price x inference time."""

from __future__ import annotations

import base64
from pathlib import Path

import openai
import pytest

from proxy.accounting.metering import SEED_METERS
from tests.conftest import RunningGateway
from tests.fakes.bytez import FakeBytez
from tests.fakes.openai import FAKE_MP3, FAKE_PNG, TRANSCRIPT, form_parts, openai_media_worker
from tests.fakes.server import FakeVendor, fixture_bytes
from tests.pools.conftest import GatewayFactory, Servers, ledger_rows, pool_toml

MODEL = "media/model"
PROMPT = "A lighthouse on a cliff at dusk"
WAV = fixture_bytes("bytez/speech.wav")
PNG = fixture_bytes("bytez/image.png")


def client(running: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{running.url}/v1", api_key=running.key, max_retries=0, timeout=10)


def container(servers: Servers, pool_gateway: GatewayFactory, task: str) -> tuple[FakeBytez, RunningGateway]:
    fake = FakeBytez(task=task, model=MODEL)
    toml = pool_toml("media", [servers.serve(fake)], protocol="bytez", models=[MODEL], task=task, meter="MD")
    return fake, pool_gateway(toml)


def media_server(
    servers: Servers, pool_gateway: GatewayFactory, task: str
) -> tuple[FakeVendor, RunningGateway]:
    fake = openai_media_worker()
    toml = pool_toml(
        "local",
        [servers.serve(fake)],
        protocol="openai",
        models=[MODEL],
        task=task,
        meter="SM",
        model="local-m",
    )
    return fake, pool_gateway(toml)


def assert_pool_billing(headers: dict[str, str] | object, meter: str) -> None:
    price = SEED_METERS[meter]
    assert headers["inference-meter"] == meter  # type: ignore[index]
    seconds = float(headers["inference-time"])  # type: ignore[index]
    assert seconds > 0
    assert float(headers["inference-cost"]) == pytest.approx(price * seconds, abs=1e-10)  # type: ignore[index]


# -- a Bytez container ---------------------------------------------------------------------------


def test_images_from_a_container(servers: Servers, pool_gateway: GatewayFactory) -> None:
    fake, running = container(servers, pool_gateway, "text-to-image")
    with client(running) as sdk:
        raw = sdk.images.with_raw_response.generate(model=MODEL, prompt=PROMPT, size="512x768")
    images = raw.parse()
    assert images.data is not None and len(images.data) == 1
    assert images.data[0].b64_json is not None
    assert base64.b64decode(images.data[0].b64_json) == PNG
    assert fake.inference_calls[0].json() == {
        "text": PROMPT,
        "params": {"width": 512, "height": 768},
        "stream": False,
    }
    assert_pool_billing(raw.headers, "MD")
    row = ledger_rows(running)[0]
    assert row["status"] == "completed" and row["provider"] == "pool:media" and row["meter"] == "MD"


def test_n_images_are_n_container_runs(servers: Servers, pool_gateway: GatewayFactory) -> None:
    fake, running = container(servers, pool_gateway, "text-to-image")
    with client(running) as sdk:
        raw = sdk.images.with_raw_response.generate(model=MODEL, prompt=PROMPT, n=3, style="vivid")
    images = raw.parse()
    assert images.data is not None and [base64.b64decode(i.b64_json or "") for i in images.data] == [PNG] * 3
    assert len(fake.inference_calls) == 3
    assert "style" in raw.headers["unigate-warnings"]


def test_speech_from_a_container_streams_to_a_file(
    servers: Servers, pool_gateway: GatewayFactory, tmp_path: Path
) -> None:
    fake, running = container(servers, pool_gateway, "text-to-speech")
    target = tmp_path / "speech.wav"
    with (
        client(running) as sdk,
        sdk.audio.speech.with_streaming_response.create(
            model=MODEL, voice="alloy", input="Hello there", response_format="wav"
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/wav"
        response.stream_to_file(target)
    assert target.read_bytes() == WAV
    assert fake.inference_calls[0].json() == {"text": "Hello there", "stream": False}


def test_speech_in_another_format_says_what_it_got(servers: Servers, pool_gateway: GatewayFactory) -> None:
    _, running = container(servers, pool_gateway, "text-to-speech")
    with client(running) as sdk:
        raw = sdk.audio.speech.with_raw_response.create(model=MODEL, voice="alloy", input="Hi")
    assert raw.headers["content-type"] == "audio/wav"
    assert raw.content == WAV
    assert "response_format mp3 was not applied" in raw.headers["unigate-warnings"]


def test_transcription_on_a_container_sends_the_upload_as_base64(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    fake, running = container(servers, pool_gateway, "automatic-speech-recognition")
    with client(running) as sdk:
        transcript = sdk.audio.transcriptions.create(model=MODEL, file=("speech.wav", WAV, "audio/wav"))
        text = sdk.audio.transcriptions.create(model=MODEL, file=("speech.wav", WAV), response_format="text")
    assert transcript.text == " " + TRANSCRIPT
    assert text == " " + TRANSCRIPT
    sent = fake.inference_calls[0].json()
    assert sent == {"base64": "data:audio/wav;base64," + base64.b64encode(WAV).decode(), "stream": False}


def test_transcription_by_url_goes_to_the_container_as_a_url(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    fake, running = container(servers, pool_gateway, "automatic-speech-recognition")
    with running.client() as http:
        response = http.post(
            "/v1/audio/transcriptions", json={"model": MODEL, "file": "https://audio.example.com/talk.wav"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"text": " " + TRANSCRIPT}
    assert fake.inference_calls[0].json() == {"url": "https://audio.example.com/talk.wav", "stream": False}


def test_a_container_of_another_task_is_refused_before_it_runs(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    fake, running = container(servers, pool_gateway, "text-to-image")
    with client(running) as sdk, pytest.raises(openai.BadRequestError) as raised:
        sdk.audio.speech.create(model=MODEL, voice="alloy", input="Hi")
    assert "text-to-image model" in str(raised.value)
    assert fake.inference_calls == []


def test_a_container_refuses_subtitles(servers: Servers, pool_gateway: GatewayFactory) -> None:
    fake, running = container(servers, pool_gateway, "automatic-speech-recognition")
    with client(running) as sdk, pytest.raises(openai.BadRequestError) as raised:
        sdk.audio.transcriptions.create(model=MODEL, file=("a.wav", WAV), response_format="srt")
    assert "json or text" in str(raised.value)
    assert fake.inference_calls == []


# -- an OpenAI-protocol media server ---------------------------------------------------------------


def test_images_pass_through_an_openai_protocol_pool(servers: Servers, pool_gateway: GatewayFactory) -> None:
    fake, running = media_server(servers, pool_gateway, "text-to-image")
    with client(running) as sdk:
        raw = sdk.images.with_raw_response.generate(
            model=MODEL, prompt=PROMPT, response_format="b64_json", size="256x256"
        )
    images = raw.parse()
    assert images.data is not None and base64.b64decode(images.data[0].b64_json or "") == FAKE_PNG
    assert fake.last.path == "/v1/images/generations"
    assert fake.last.json() == {
        "model": "local-m",
        "prompt": PROMPT,
        "response_format": "b64_json",
        "size": "256x256",
    }
    assert "authorization" not in fake.last.headers
    assert_pool_billing(raw.headers, "SM")


def test_speech_passes_through_an_openai_protocol_pool(
    servers: Servers, pool_gateway: GatewayFactory, tmp_path: Path
) -> None:
    fake, running = media_server(servers, pool_gateway, "text-to-speech")
    target = tmp_path / "out.mp3"
    with (
        client(running) as sdk,
        sdk.audio.speech.with_streaming_response.create(model=MODEL, voice="af_sky", input="Hi") as response,
    ):
        response.stream_to_file(target)
    assert target.read_bytes() == FAKE_MP3
    assert fake.last.json() == {"model": "local-m", "voice": "af_sky", "input": "Hi"}


def test_transcription_passes_through_an_openai_protocol_pool(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    fake, running = media_server(servers, pool_gateway, "automatic-speech-recognition")
    with client(running) as sdk:
        transcript = sdk.audio.transcriptions.create(
            model=MODEL,
            file=("talk.mp3", FAKE_MP3, "audio/mpeg"),
            timestamp_granularities=["word", "segment"],
        )
    assert transcript.text == TRANSCRIPT
    parts = form_parts(fake.last)
    fields = [(part.name, part.data) for part in parts if part.filename is None]
    assert ("model", b"local-m") in fields
    assert [value for name, value in fields if name == "timestamp_granularities[]"] == [b"word", b"segment"]
    files = [part for part in parts if part.filename is not None]
    assert [(f.filename, f.content_type, f.data) for f in files] == [("talk.mp3", "audio/mpeg", FAKE_MP3)]
