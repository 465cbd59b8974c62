"""Speech recognition for the reference worker: CMU PocketSphinx with the US English model
its PyPI wheel ships (`pocketsphinx/model/en-us`), on the CPU, nothing downloaded.

The worker answers OpenAI's `POST /v1/audio/transcriptions` (a multipart upload, as the
gateway's OpenAI-protocol pools send it), so a `protocol = "openai"` pool declared
`automatic-speech-recognition` serves it on `/v1/audio/transcriptions` and on the native
surface. PocketSphinx decodes 16 kHz mono 16-bit PCM; a WAV at another rate, or in stereo,
is mixed down and resampled (linearly: speech survives it). Other formats are a 400:
the worker carries no audio codecs.
"""

from __future__ import annotations

import array
import asyncio
import importlib
import io
import logging
import math
import sys
import threading
import wave
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile

RATE = 16000
SPEECH_MODEL_NAME = "cmusphinx/en-us"
"""The id the worker answers as: CMU Sphinx's US English model."""
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
log = logging.getLogger("unigate.worker")


class AudioError(ValueError):
    """The upload is not audio this worker reads; the message says why."""


def _mono(samples: array.array[int], channels: int) -> array.array[int]:
    if channels == 1:
        return samples
    mixed = array.array("h", bytes(2 * (len(samples) // channels)))
    for index in range(len(mixed)):
        frame = samples[index * channels : (index + 1) * channels]
        mixed[index] = sum(frame) // channels
    return mixed


def _resampled(samples: array.array[int], rate: int) -> array.array[int]:
    if rate == RATE or not samples:
        return samples
    count = len(samples) * RATE // rate
    step = rate / RATE
    last = len(samples) - 1
    out = array.array("h", bytes(2 * count))
    for index in range(count):
        position = index * step
        left = int(position)
        right = min(left + 1, last)
        out[index] = int(samples[left] + (samples[right] - samples[left]) * (position - left))
    return out


def pcm_from_wav(data: bytes) -> tuple[bytes, float]:
    """(16 kHz mono 16-bit PCM, the audio's seconds) from a WAV file's bytes."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioError(f"the file is not a WAV this worker reads ({error})") from None
    if width != 2 or rate <= 0:
        raise AudioError(f"the WAV must be 16-bit PCM; this one is {8 * width}-bit")
    samples = array.array("h", frames[: len(frames) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    seconds = len(samples) / channels / rate
    pcm = _resampled(_mono(samples, channels), rate)
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm.tobytes(), seconds


class SpeechRecognizer:
    """One PocketSphinx decoder, loaded off the event loop; decodes one utterance at a time."""

    def __init__(self) -> None:
        self.decoder: Any = None
        self.failure: str | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        try:
            decoder = importlib.import_module("pocketsphinx").Decoder
            self.decoder = decoder(samprate=RATE, loglevel="FATAL")
            log.info("speech model (pocketsphinx en-us) loaded")
        except Exception as error:  # reported by /health; the server keeps running
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("the speech model failed to load")

    def transcribe(self, pcm: bytes) -> str:
        with self._lock:
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hypothesis = self.decoder.hyp()
        return str(hypothesis.hypstr) if hypothesis is not None else ""


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Response[bytes]:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def create_speech_app(name: str = SPEECH_MODEL_NAME, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Litestar:
    """`/health`, `/v1/models` and OpenAI's `/v1/audio/transcriptions` (json or text)."""
    recognizer = SpeechRecognizer()

    def start() -> None:
        threading.Thread(target=recognizer.load, name="model-loader", daemon=True).start()

    @get("/health", sync_to_thread=False)
    def health() -> Response[bytes]:
        if recognizer.failure is not None:
            return _error(500, "the model failed to load", "server_error")
        if recognizer.decoder is None:
            return _error(503, "the model is loading", "service_unavailable")
        return Response(b'{"status":"ok"}', media_type="application/json")

    @get("/v1/models", sync_to_thread=False)
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "unigate-worker"}]}

    @post("/v1/audio/transcriptions", status_code=200, request_max_body_size=max_upload_bytes)
    async def transcriptions(request: Request[Any, Any, Any]) -> Response[bytes]:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(400, "send the audio as a multipart/form-data upload (`file`)")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _error(400, "`file` is required: one audio file")
        answer = form.get("response_format") or "json"
        if answer not in ("json", "text"):
            return _error(400, f"response_format {str(answer)[:32]!r}: this worker answers json or text")
        try:
            pcm, seconds = pcm_from_wav(await upload.read())
        except AudioError as error:
            return _error(400, str(error))
        if recognizer.decoder is None:
            return _error(503, "the model is loading", "service_unavailable")
        text = await asyncio.to_thread(recognizer.transcribe, pcm)
        if answer == "text":
            return Response((text + "\n").encode(), media_type="text/plain; charset=utf-8")
        usage = {"type": "duration", "seconds": math.ceil(seconds)}
        return Response(msgspec.json.encode({"text": text, "usage": usage}), media_type="application/json")

    return Litestar(route_handlers=[health, models, transcriptions], on_startup=[start], debug=False)
