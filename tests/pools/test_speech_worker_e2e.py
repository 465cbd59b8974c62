"""The reference worker's speech recognition end to end: CMU PocketSphinx with the US English
model its PyPI wheel ships, on the CPU, started as `unigate worker --task
automatic-speech-recognition`, behind an OpenAI-protocol pool, read through the openai SDK's
`audio.transcriptions.create` and the native surface. The clip is "hello world" spoken by
espeak-ng, 16 kHz mono (tests/fixtures/speech/hello-world.wav)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from proxy.reference_worker.speech import AudioError, pcm_from_wav
from tests.fakes.server import fixture_bytes
from tests.pools.conftest import GatewayFactory, ledger_rows, pool_toml, refusing_url

MODEL = "cmusphinx/en-us"
ROOT = Path(__file__).resolve().parents[2]
CLIP = fixture_bytes("speech/hello-world.wav")


def _wav(frames: bytes, rate: int, channels: int, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return buffer.getvalue()


def _clip_frames() -> bytes:
    with wave.open(io.BytesIO(CLIP)) as reader:
        return reader.readframes(reader.getnframes())


def _stereo_at_double_rate() -> bytes:
    """The clip as 32 kHz stereo: each sample twice in time, on both channels."""
    frames = _clip_frames()
    out = bytearray()
    for start in range(0, len(frames), 2):
        sample = frames[start : start + 2]
        out += sample * 4  # (left, right) x 2 frames
    return _wav(bytes(out), 32000, 2)


# -- the audio reader (no model needed) -------------------------------------------------------


def test_a_16_khz_mono_wav_is_taken_as_it_is() -> None:
    pcm, seconds = pcm_from_wav(CLIP)
    assert pcm == _clip_frames()
    assert seconds == pytest.approx(len(pcm) / 2 / 16000)


def test_other_rates_and_stereo_become_16_khz_mono() -> None:
    pcm, seconds = pcm_from_wav(_stereo_at_double_rate())
    assert len(pcm) == len(_clip_frames())
    assert seconds == pytest.approx(len(_clip_frames()) / 2 / 16000)


@pytest.mark.parametrize(
    "data",
    [b"ID3\x04 an mp3, not a wav", _wav(bytes(100), 16000, 1, width=1), b"RIFF\x10\x00\x00\x00WAVE"],
)
def test_what_is_not_a_16_bit_wav_is_refused(data: bytes) -> None:
    with pytest.raises(AudioError):
        pcm_from_wav(data)


# -- the worker behind a pool ---------------------------------------------------------------


@pytest.fixture(scope="module")
def speech_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("pocketsphinx", reason="the [worker] extra is not installed")
    url = refusing_url()
    port = url.rsplit(":", 1)[1]
    log = (tmp_path_factory.mktemp("speech-worker") / "worker.log").open("wb")
    command = [sys.executable, "-m", "proxy.cli", "worker", "--task", "automatic-speech-recognition"]
    process = subprocess.Popen([*command, "--port", port], cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "the worker exited; see worker.log"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the model did not load in time"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(20)
        log.close()


@pytest.mark.timeout(120)
def test_real_speech_recognition_through_a_pool(speech_worker: str, pool_gateway: GatewayFactory) -> None:
    running = pool_gateway(
        pool_toml(
            "sphinx",
            [speech_worker],
            protocol="openai",
            models=["cmusphinx/*"],
            task="automatic-speech-recognition",
            meter="Micro",
        )
    )
    with openai.OpenAI(
        base_url=running.url + "/v1", api_key=running.key, max_retries=0, timeout=60
    ) as client:
        transcript = client.audio.transcriptions.create(model=MODEL, file=("hello.wav", CLIP, "audio/wav"))
        resampled = client.audio.transcriptions.create(
            model=MODEL, file=("hello.wav", _stereo_at_double_rate(), "audio/wav")
        )
    assert transcript.text == "hello world"
    assert resampled.text == "hello world"
    data_url = "data:audio/wav;base64," + base64.b64encode(CLIP).decode()
    with running.client() as http:
        native = http.post(f"/models/v2/{MODEL}", json={"base64": data_url}, timeout=60)
        not_wav = http.post(
            f"/models/v2/{MODEL}",
            json={"base64": "data:audio/mpeg;base64," + base64.b64encode(b"ID3 x").decode()},
        )
    assert native.status_code == 200, native.text
    answer = native.json()
    assert answer["output"] == {"text": "hello world"}
    assert answer["billing"]["meter"] == "Micro" and answer["billing"]["cost"] > 0
    assert not_wav.status_code == 400, not_wav.text  # the worker's refusal, passed on as the client's mistake
    rows = ledger_rows(running, count=4)
    assert [row["status"] for row in rows[:3]] == ["completed"] * 3
