"""Media in and out on Bytez-protocol pools: gateway and fake model containers on real
sockets, each task family answering from tests/fixtures/bytez/."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from proxy.accounting.metering import SEED_METERS
from tests.fakes.bytez import FakeBytez
from tests.fakes.server import Reply, fixture_bytes
from tests.pools.conftest import GatewayFactory, Servers, assert_billing, ledger_rows, pool_toml

MODEL = "media/model"
PROMPT = "A lighthouse on a cliff at dusk"
IMAGE_URL = "https://images.example.com/cat.jpg"
AUDIO_URL = "https://audio.example.com/speech.wav"
VIDEO_URL = "https://video.example.com/guitar.mp4"
ENVELOPE_KEYS = {"error", "code", "output", "usage", "billing", "provider", "warnings", "id", "model"}


def data_url(media_type: str, name: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(fixture_bytes(f'bytez/{name}')).decode()}"


def fixture_reply(task: str) -> Any:
    return msgspec.json.decode(fixture_bytes(f"bytez/{task}.json"))


def media_pool(url: str, task: str, **fields: object) -> str:
    return pool_toml("media", [url], protocol="bytez", models=[MODEL], task=task, meter="MD", **fields)


def serve(
    servers: Servers, pool_gateway: GatewayFactory, task: str, extra: str = ""
) -> tuple[FakeBytez, Any]:
    container = FakeBytez(task=task, model=MODEL)
    running = pool_gateway(media_pool(servers.serve(container), task) + extra)
    return container, running


GENERATORS = [
    ("text-to-image", "output_png", "image/png", "image.png"),
    ("text-to-speech", "output_wav", "audio/wav", "speech.wav"),
    ("text-to-audio", "output_wav", "audio/wav", "speech.wav"),
    ("text-to-video", "output_mp4", "video/mp4", "video.mp4"),
]


@pytest.mark.parametrize(("task", "field", "content_type", "name"), GENERATORS)
def test_generated_media_answers_base64_in_the_full_envelope(
    servers: Servers, pool_gateway: GatewayFactory, task: str, field: str, content_type: str, name: str
) -> None:
    container, running = serve(servers, pool_gateway, task)
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["error"] is None and body["usage"] is None and body["provider"] is None
    assert body["model"] == MODEL and body["code"] is None and body["warnings"] == []
    assert body["output"] == {field: base64.b64encode(fixture_bytes(f"bytez/{name}")).decode()}
    assert base64.b64decode(body["output"][field]) == fixture_bytes(f"bytez/{name}")
    assert_billing(body["billing"], "MD", SEED_METERS["MD"])
    assert container.inference_calls[0].json() == {"text": PROMPT, "stream": False}
    row = ledger_rows(running)[0]
    assert row["meter"] == "MD" and row["status"] == "completed"


@pytest.mark.parametrize(("task", "field", "content_type", "name"), GENERATORS)
def test_json_false_answers_the_raw_bytes_with_their_content_type(
    servers: Servers, pool_gateway: GatewayFactory, task: str, field: str, content_type: str, name: str
) -> None:
    _, running = serve(servers, pool_gateway, task)
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"input": PROMPT, "json": False})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert response.content == fixture_bytes(f"bytez/{name}")
    assert response.headers["Inference-Meter"] == "MD"
    assert float(response.headers["Inference-Cost"]) == pytest.approx(
        SEED_METERS["MD"] * float(response.headers["Inference-Time"]), abs=1e-10
    )
    assert response.headers["X-Request-Id"]


def test_image_to_image_takes_an_image_and_a_prompt(servers: Servers, pool_gateway: GatewayFactory) -> None:
    container, running = serve(servers, pool_gateway, "image-to-image")
    image = data_url("image/png", "image.png")
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"base64": image, "text": "make it blue"})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == fixture_reply("image-to-image")
    assert container.inference_calls[0].json() == {"text": "make it blue", "base64": image, "stream": False}


def test_unconditional_generation_needs_no_input(servers: Servers, pool_gateway: GatewayFactory) -> None:
    _, running = serve(servers, pool_gateway, "unconditional-image-generation")
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"json": False})
    assert response.status_code == 200, response.text
    assert response.content == fixture_bytes("bytez/image.png")


def test_a_url_output_stays_a_url(servers: Servers, pool_gateway: GatewayFactory) -> None:
    container, running = serve(servers, pool_gateway, "text-to-image")
    link = "https://cdn.example.com/generated/8f1e.png"
    container.enqueue(Reply.json({"output": link}), Reply.json({"output": link}))
    with running.client() as client:
        as_json = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT})
        asked_raw = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT, "json": False})
    for response in (as_json, asked_raw):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["output"] == link


def test_a_data_url_output_is_media_too(servers: Servers, pool_gateway: GatewayFactory) -> None:
    container, running = serve(servers, pool_gateway, "text-to-speech")
    container.enqueue(Reply.json({"output": data_url("audio/wav", "speech.wav")}))
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT, "json": False})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == fixture_bytes("bytez/speech.wav")


@pytest.mark.parametrize("json_answer", [True, False])
def test_media_past_max_output_bytes_is_refused(
    servers: Servers, pool_gateway: GatewayFactory, json_answer: bool
) -> None:
    """speech.wav is 1644 bytes: a 1000-byte cap refuses it, the JSON answer included."""
    _, running = serve(servers, pool_gateway, "text-to-speech", "[media]\nmax_output_bytes = 1000\n")
    body: dict[str, Any] = {"text": PROMPT} if json_answer else {"text": PROMPT, "json": False}
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json=body)
    assert response.status_code == 413, response.text
    answer = response.json()
    assert answer["code"] == "output_too_large" and answer["output"] is None
    assert "max_output_bytes (1000 bytes)" in answer["error"]
    assert ledger_rows(running)[0]["status"] != "completed"


def test_a_large_reply_is_refused_by_its_content_length(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    container, running = serve(servers, pool_gateway, "text-to-video", "[media]\nmax_output_bytes = 1000\n")
    container.enqueue(Reply.json({"output_mp4": "A" * 200_000}))
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "output_too_large"


def test_broken_base64_from_a_worker_fails_over_to_the_next(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    """A member's unreadable media is its failure (server_error, retryable): another member
    answers, and the client gets whole bytes, never half an answer."""
    broken, whole = FakeBytez(task="text-to-image", model=MODEL), FakeBytez(task="text-to-image", model=MODEL)
    broken.enqueue(*[Reply.json({"output_png": "iVBORw0KGgo*not-base64"})] * 2)
    urls = [servers.serve(broken), servers.serve(whole)]
    running = pool_gateway(pool_toml("media", urls, protocol="bytez", models=[MODEL], task="text-to-image"))
    with running.client() as client:
        first = client.post(f"/models/v2/{MODEL}", json={"text": PROMPT, "json": False})
        assert first.status_code == 200, first.text
        assert first.content == fixture_bytes("bytez/image.png")
    assert len(whole.inference_calls) == 1 and len(broken.inference_calls) <= 1


MEDIA_IN = [
    ("automatic-speech-recognition", {"url": AUDIO_URL}),
    ("automatic-speech-recognition", {"base64": data_url("audio/wav", "speech.wav")}),
    ("audio-classification", {"base64": data_url("audio/wav", "speech.wav")}),
    ("object-detection", {"url": IMAGE_URL}),
    ("image-segmentation", {"base64": data_url("image/png", "image.png")}),
    ("image-to-text", {"url": IMAGE_URL}),
    ("visual-question-answering", {"url": IMAGE_URL, "question": "How many cats are there?"}),
    (
        "document-question-answering",
        {"url": "https://docs.example.com/invoice.png", "question": "Invoice no?"},
    ),
    ("video-classification", {"url": VIDEO_URL}),
    ("zero-shot-image-classification", {"url": IMAGE_URL, "candidate_labels": ["cat", "dog"]}),
]


@pytest.mark.parametrize(
    ("task", "fields"), MEDIA_IN, ids=[f"{task}-{next(iter(f))}" for task, f in MEDIA_IN]
)
def test_media_input_reaches_the_container_as_sent(
    servers: Servers, pool_gateway: GatewayFactory, task: str, fields: dict[str, Any]
) -> None:
    container, running = serve(servers, pool_gateway, task)
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json=fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == ENVELOPE_KEYS and body["usage"] is None
    assert body["output"] == fixture_reply(task)["output"]
    assert container.inference_calls[0].json() == {**fields, "stream": False}


def test_the_sdks_input_string_is_the_media(servers: Servers, pool_gateway: GatewayFactory) -> None:
    """`model.run(url)` sends `input`; a media task reads it as `url` (or `base64`)."""
    container, running = serve(servers, pool_gateway, "automatic-speech-recognition")
    audio = data_url("audio/wav", "speech.wav")
    with running.client() as client:
        by_url = client.post(f"/models/v2/{MODEL}", json={"input": AUDIO_URL})
        by_data = client.post(f"/models/v2/{MODEL}", json={"input": audio})
    assert by_url.status_code == by_data.status_code == 200, (by_url.text, by_data.text)
    sent = [call.json() for call in container.inference_calls]
    assert sent == [{"url": AUDIO_URL, "stream": False}, {"base64": audio, "stream": False}]


BAD_INPUT = [
    (
        "automatic-speech-recognition",
        {"url": "https://example.com/index.html"},
        415,
        "unsupported_media_type",
    ),
    ("object-detection", {"url": "https://example.com/report.pdf"}, 415, "unsupported_media_type"),
    ("object-detection", {"url": "ftp://example.com/cat.png"}, 400, "invalid_request"),
    ("object-detection", {"url": "file:///etc/passwd"}, 400, "invalid_request"),
    ("image-to-text", {"base64": "data:text/plain;base64,aGVsbG8="}, 415, "unsupported_media_type"),
    (
        "automatic-speech-recognition",
        {"base64": data_url("image/png", "image.png")},
        415,
        "unsupported_media_type",
    ),
    ("video-classification", {"base64": data_url("audio/wav", "speech.wav")}, 415, "unsupported_media_type"),
    ("image-classification", {"base64": data_url("image/png", "image.png")[:-3]}, 400, "invalid_request"),
    ("image-classification", {"base64": "data:image/png;base64,iVBO!!!!"}, 400, "invalid_request"),
    ("image-classification", {"base64": "data:image/png,iVBORw0KGgo="}, 400, "invalid_request"),
    (
        "automatic-speech-recognition",
        {"input": "https://example.com/notes.txt"},
        415,
        "unsupported_media_type",
    ),
]


@pytest.mark.parametrize(("task", "fields", "status", "code"), BAD_INPUT)
def test_bad_media_input_is_refused_before_the_container(
    servers: Servers, pool_gateway: GatewayFactory, task: str, fields: dict[str, Any], status: int, code: str
) -> None:
    container, running = serve(servers, pool_gateway, task)
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json=fields)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["output"] is None
    assert container.inference_calls == []


def test_base64_past_the_media_cap_is_refused(servers: Servers, pool_gateway: GatewayFactory) -> None:
    """Under the body limit but over `[media] max_bytes`: 413 before the container."""
    container, running = serve(servers, pool_gateway, "image-classification", "[media]\nmax_bytes = 1024\n")
    payload = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(4096)).decode()
    with running.client() as client:
        response = client.post(f"/models/v2/{MODEL}", json={"base64": f"data:image/png;base64,{payload}"})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert container.inference_calls == []


def test_a_100_mb_upload_is_refused_before_the_container(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    container, running = serve(servers, pool_gateway, "automatic-speech-recognition")
    payload = b'{"base64": "data:audio/wav;base64,' + b"A" * (100 * 1024 * 1024) + b'"}'
    with running.client() as client:
        response = client.post(
            f"/models/v2/{MODEL}", content=payload, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert container.inference_calls == []


def test_list_tasks_names_exactly_what_can_be_served(servers: Servers, pool_gateway: GatewayFactory) -> None:
    image = FakeBytez(task="text-to-image", model="art/painter")
    speech = FakeBytez(task="automatic-speech-recognition", model="openai/whisper-tiny")
    config = (
        pool_toml(
            "painter", [servers.serve(image)], protocol="bytez", models=["art/painter"], task="text-to-image"
        )
        + pool_toml(
            "ears",
            [servers.serve(speech)],
            protocol="bytez",
            models=["openai/whisper-tiny"],
            task="automatic-speech-recognition",
        )
        # an OpenAI-protocol server runs chat, text-generation, embeddings and OpenAI's media
        # endpoints (text-to-image, text-to-speech, automatic-speech-recognition), no other task
        + pool_toml("openai-audio", ["http://127.0.0.1:9"], models=["x/tts"], task="text-to-speech")
        + pool_toml("openai-depth", ["http://127.0.0.1:9"], models=["x/dpt"], task="depth-estimation")
        + pool_toml("vectors", ["http://127.0.0.1:9"], models=["x/bge"], task="feature-extraction")
        # a vendor runs the chat path, and OpenAI its media models (the catalogue's too)
        + '[[routes]]\nmatch = "team/voice"\nprovider = "openai"\nmodel = "tts-1"\ntask = "text-to-speech"\n'
        + '[[routes]]\nmatch = "team/depth"\nprovider = "openai"\nmodel = "x"\ntask = "depth-estimation"\n'
        + '[[routes]]\nmatch = "team/see"\nprovider = "openai"\nmodel = "gpt-4o"\ntask = "image-text-to-text"\n'
    )
    running = pool_gateway(config)
    with running.client() as client:
        tasks = client.get("/models/v2/list/tasks").json()["output"]
    assert tasks == [
        "automatic-speech-recognition",
        "chat",
        "feature-extraction",
        "image-text-to-text",
        "text-to-image",
        "text-to-speech",
    ]


def bytez_sdk(running: Any) -> Any:
    """The real `bytez` package, pointed at the gateway (its host is fixed in the client)."""
    from bytez import Bytez

    sdk = Bytez(running.key)
    sdk._client.host = f"{running.url}/models/v2/"
    return sdk


def test_the_bytez_sdk_saves_a_generated_image(
    servers: Servers, pool_gateway: GatewayFactory, tmp_path: Any
) -> None:
    container, running = serve(servers, pool_gateway, "text-to-image")
    result = bytez_sdk(running).model(MODEL).run(PROMPT, {"num_inference_steps": 4})
    assert result.error is None, result.error
    saved = tmp_path / "output.png"
    saved.write_bytes(base64.b64decode(result.output["output_png"]))
    assert saved.read_bytes() == fixture_bytes("bytez/image.png")
    assert container.inference_calls[0].json() == {
        "text": PROMPT,
        "params": {"num_inference_steps": 4},
        "stream": False,
    }


def test_the_bytez_sdk_reads_a_transcription(servers: Servers, pool_gateway: GatewayFactory) -> None:
    container, running = serve(servers, pool_gateway, "automatic-speech-recognition")
    model = bytez_sdk(running).model(MODEL)
    by_url = model.run(AUDIO_URL)
    by_data = model.run(data_url("audio/wav", "speech.wav"))
    for result in (by_url, by_data):
        assert result.error is None, result.error
        assert result.output["text"] == " Dreams are the mind sorting the day."
    assert [sorted(call.json()) for call in container.inference_calls] == [
        ["stream", "url"],
        ["base64", "stream"],
    ]
