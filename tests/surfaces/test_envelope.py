"""One envelope (issue #11, item 3): every non-streamed native answer — a chat from each of
the five vendors and from both kinds of worker pool, a task, embeddings, generated media,
each error class and each refusal — decodes strictly as `schemas.native.Envelope` and has
exactly its nine keys, in order, whatever served it. Gateway, vendors and workers all on
real sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from schemas.errors import Code
from schemas.native import Envelope
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.bytez import FakeBytez
from tests.fakes.server import Reply, ServerThread
from tests.fakes.vllm import FakeVLLM
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, Vendors, gateway_config

NINE = ["error", "code", "output", "usage", "billing", "provider", "warnings", "id", "model"]
CHAT = {"messages": [{"role": "user", "content": "Hi"}]}
BYTEZ_CHAT = "Qwen/Qwen2.5-0.5B-Instruct"
VLLM_CHAT = "NousResearch/Hermes-3-Llama-3.1-8B"
GPT2 = "openai-community/gpt2"
EMBEDDER = "BAAI/bge-small-en-v1.5"
PAINTER = "media/painter"
LISTENER = "media/listener"


def _pool(name: str, url: str, **fields: object) -> str:
    lines = [f"[[pools]]\nname = {name!r}\nurls = [{url!r}]"]
    lines += [f"{key} = {msgspec.json.encode(value).decode()}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def everything(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """The five fake vendors, and worker pools of both protocols serving chat, text
    generation, embeddings, image generation and speech recognition."""
    workers = {
        "bytez-chat": FakeBytez(task="chat", model=BYTEZ_CHAT),
        "vllm-chat": FakeVLLM(model=VLLM_CHAT),
        "gpt2": FakeBytez(task="text-generation", model=GPT2),
        "embed": FakeVLLM(model=EMBEDDER),
        "painter": FakeBytez(task="text-to-image", model=PAINTER),
        "listener": FakeBytez(task="automatic-speech-recognition", model=LISTENER),
    }
    threads = {name: ServerThread(fake, lifespan="off").start() for name, fake in workers.items()}
    url = {name: thread.url for name, thread in threads.items()}
    pools = (
        _pool("gpt2", url["gpt2"], protocol="bytez", models=[GPT2], task="text-generation", meter="SM")
        + _pool("bytez-chat", url["bytez-chat"], protocol="bytez", models=["Qwen/*"], meter="XS")
        + _pool("vllm-chat", f"{url['vllm-chat']}/v1", models=["NousResearch/*"], meter="SM")
        + _pool("embed", f"{url['embed']}/v1", models=["BAAI/*"], task="feature-extraction", meter="XS")
        + _pool(
            "painter", url["painter"], protocol="bytez", models=[PAINTER], task="text-to-image", meter="MD"
        )
        + _pool(
            "listener",
            url["listener"],
            protocol="bytez",
            models=[LISTENER],
            task="automatic-speech-recognition",
            meter="MD",
        )
    )
    server, running = start_gateway(
        tmp_path_factory.mktemp("envelope"),
        vendors.environ,
        gateway_config("[server]\nmax_body_bytes = 65536\n" + pools),
    )
    yield running
    server.stop()
    for thread in threads.values():
        thread.stop()


@pytest.fixture
def gateway(everything: RunningGateway, vendors: Vendors) -> RunningGateway:
    vendors.clear()
    return everything


def _post(
    gateway: RunningGateway, model: str, body: Any, key: str | None = None, **headers: str
) -> httpx.Response:
    auth = {"Authorization": f"Key {key}"} if key is not None else {}
    with gateway.client(**{"Provider-Key": VENDOR_KEY, **auth, **headers}) as client:
        if isinstance(body, bytes):
            return client.post(f"/models/v2/{model}", content=body)
        return client.post(f"/models/v2/{model}", json=body)


def envelope(response: httpx.Response) -> Envelope:
    """The answer decoded strictly as the one type, after checking it has exactly the nine
    keys in order (msgspec alone would ignore an extra key and default a missing one)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert list(msgspec.json.decode(response.content)) == NINE, response.text
    decoded = msgspec.json.decode(response.content, type=Envelope, strict=True)
    assert decoded.id == response.headers["x-request-id"]
    return decoded


@pytest.mark.parametrize("vendor", sorted(MODELS))
def test_a_chat_from_each_vendor(gateway: RunningGateway, vendor: str) -> None:
    response = _post(gateway, MODELS[vendor], CHAT)
    assert response.status_code == 200, response.text
    answer = envelope(response)
    assert (answer.error, answer.code, answer.model) == (None, None, MODELS[vendor])
    assert answer.output["content"] == KITS[vendor].text and answer.output["finish_reason"] == "stop"
    assert answer.usage is not None and answer.billing is not None
    assert isinstance(answer.provider, dict)  # the vendor's raw reply
    assert answer.warnings == []


@pytest.mark.parametrize("model", [BYTEZ_CHAT, VLLM_CHAT])
def test_a_chat_from_each_kind_of_pool(gateway: RunningGateway, model: str) -> None:
    response = _post(gateway, model, CHAT)
    assert response.status_code == 200, response.text
    answer = envelope(response)
    assert answer.error is None and answer.output["role"] == "assistant" and answer.output["content"]
    assert answer.billing is not None and answer.billing.meter in ("LLM-XS", "LLM-SM")


def test_a_task_embeddings_and_media(gateway: RunningGateway) -> None:
    generated = envelope(_post(gateway, GPT2, {"text": "Once upon a time"}))
    assert isinstance(generated.output, list) and "generated_text" in generated.output[0]
    assert (generated.usage, generated.provider, generated.code) == (None, None, None)
    vectors = envelope(_post(gateway, EMBEDDER, {"text": "bcd"}))
    assert isinstance(vectors.output, list) and isinstance(vectors.output[0], float)
    image = envelope(_post(gateway, PAINTER, {"text": "a lighthouse"}))
    assert set(image.output) == {"output_png"}
    for answer in (generated, vectors, image):
        assert answer.error is None and answer.warnings == [] and answer.billing is not None


def test_a_warning_is_in_the_list(gateway: RunningGateway) -> None:
    answer = envelope(_post(gateway, MODELS["openai"], {**CHAT, "params": {"top_k": 3}}))
    assert answer.warnings == ["top_k is not supported by openai; it was not sent"]


@pytest.mark.parametrize("code", sorted(KITS["openai"].errors))
def test_each_vendor_error_class(gateway: RunningGateway, vendors: Vendors, code: Code) -> None:
    vendors.fakes["openai"].enqueue(KITS["openai"].errors[code])
    response = _post(gateway, MODELS["openai"], CHAT)
    assert response.status_code >= 400
    answer = envelope(response)
    assert answer.code == code and answer.error
    assert (answer.output, answer.usage, answer.billing) == (None, None, None)
    assert answer.provider == "openai" and answer.model == MODELS["openai"]


def test_each_gateway_error_and_refusal(gateway: RunningGateway, vendors: Vendors) -> None:
    keys = gateway.gateway.keys
    _, broke = keys.create("broke", budget=0.0)
    _, slow = keys.create("slow", rpm=1)
    assert _post(gateway, MODELS["openai"], CHAT, key=slow).status_code == 200
    pdf = {"url": "https://example.com/minutes.pdf"}
    answers = {
        "authentication": _post(gateway, MODELS["openai"], CHAT, key="ug-wrong"),
        "invalid_request": _post(gateway, MODELS["openai"], b"{not json"),
        "unsupported": _post(
            gateway,
            MODELS["openai"],
            {
                "messages": [
                    {"role": "user", "content": [{"type": "video", "url": "https://example.com/a.mp4"}]}
                ]
            },
        ),
        "not_found": _post(gateway, "x%01y", CHAT),
        "budget_exceeded": _post(gateway, MODELS["openai"], CHAT, key=broke),
        "rate_limited": _post(gateway, MODELS["openai"], CHAT, key=slow),
        "payload_too_large": _post(gateway, MODELS["openai"], {"text": "x" * 70_000}),
        "unsupported_media_type": _post(gateway, LISTENER, pdf),
        "idempotency_conflict": _conflict(gateway, vendors),
    }
    for code, response in answers.items():
        answer = envelope(response)
        assert answer.code == code, response.text
        assert answer.error and (answer.output, answer.usage, answer.billing) == (None, None, None)
        assert answer.provider == ("openai" if code == "unsupported" else None)  # whose limit it is
        assert answer.warnings == []


def _conflict(gateway: RunningGateway, vendors: Vendors) -> httpx.Response:
    """A second request under the `Idempotency-Key` of one still running: 409."""
    vendors.clear()
    vendors.fakes["openai"].enqueue(Reply.fixture("openai/chat.json", delay=1.0))
    headers = {"Idempotency-Key": "envelope-conflict"}
    first = threading.Thread(target=lambda: _post(gateway, MODELS["openai"], CHAT, **headers))
    first.start()
    deadline = time.monotonic() + 5
    while not vendors.fakes["openai"].received and time.monotonic() < deadline:
        time.sleep(0.01)
    second = _post(gateway, MODELS["openai"], CHAT, **headers)
    first.join()
    return second
