"""The Responses surface in the matrix: every kind of backend (the five vendors, an
OpenAI-protocol pool, a Bytez-protocol pool) answers `POST /v1/responses`, plain and
streamed, in OpenAI's own wire shape.

"OpenAI's shape" is what tests/fixtures/openai-responses/ holds (taken from the OpenAI
OpenAPI spec): each key of the spec's `response` object, of its message item and of every
event of its text stream must be in ours, with a value of the same JSON type, and the
stream's events must come in the spec's order. A key we add (`cost`) is allowed; a key we
lack is a client's `KeyError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.fakes.bytez import ANSWER as BYTEZ_TEXT
from tests.fakes.bytez import FakeBytez
from tests.fakes.openai import responses_answer, responses_stream_text
from tests.fakes.server import FIXTURES, FakeVendor, ServerThread, fixture_bytes, sse_frames
from tests.fakes.vllm import CHAT_TEXT as VLLM_TEXT
from tests.fakes.vllm import FakeVLLM
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, gateway_config

POOL_MODELS = {"vllm": "NousResearch/Hermes-3-Llama-3.1-8B", "bytez": "Qwen/Qwen3-0.6B"}
BACKENDS: dict[str, tuple[str, str]] = {
    **{vendor: (MODELS[vendor], KITS[vendor].text) for vendor in KITS},
    "vllm": (POOL_MODELS["vllm"], VLLM_TEXT),
    "bytez": (POOL_MODELS["bytez"], BYTEZ_TEXT),
}
"""Backend kind → (model id routed to it, the text its fake answers)."""
OPENAI_TEXTS = (responses_answer("text.json")["output"][0]["content"][0]["text"], responses_stream_text())
"""OpenAI answers from its own `/responses`: (plain, streamed) as the spec's examples say."""


def _text(backend: str, streamed: bool) -> str:
    return OPENAI_TEXTS[streamed] if backend == "openai" else BACKENDS[backend][1]


SPEC = FIXTURES / "openai-responses"
_KEYS_WE_ECHO_ONLY_WHEN_SENT = {"completed_at"}
"""In the spec's example but absent from an in-progress snapshot of ours."""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_shaped_like(ours: Any, spec: Any, where: str) -> None:
    """Every key of the spec's object is in ours with the same JSON type. A scalar may be
    null on either side (the spec's example leaves optional fields null that ours fills, and
    ours echoes null where OpenAI fills in its default); an object or a list may not."""
    if isinstance(spec, dict):
        assert isinstance(ours, dict), f"{where}: {ours!r} is not an object"
        for key, value in spec.items():
            assert key in ours, f"{where}: the spec's key {key!r} is missing"
            assert_shaped_like(ours[key], value, f"{where}.{key}")
    elif isinstance(spec, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list"
        if spec and ours:
            assert_shaped_like(ours[0], spec[0], f"{where}[0]")
    elif spec is not None and ours is not None:
        assert _json_type(ours) == _json_type(spec), f"{where}: {ours!r} is not like {spec!r}"


def _spec_events() -> list[dict[str, Any]]:
    frames = sse_frames(fixture_bytes("openai-responses/stream.sse"))
    return [msgspec.json.decode(frame.split(b"data: ", 1)[1]) for frame in frames]


def _our_events(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for frame in sse_frames(raw):
        lines = [line for line in frame.split(b"\n") if line.startswith(b"data: ")]
        if lines:
            events.append(msgspec.json.decode(lines[0].removeprefix(b"data: ")))
    return events


def _collapse(kinds: list[str]) -> list[str]:
    """Runs of the same event (the deltas) as one: how many deltas a vendor sends is its own."""
    return [kind for index, kind in enumerate(kinds) if index == 0 or kinds[index - 1] != kind]


@pytest.fixture(scope="module")
def matrix_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, dict[str, FakeVendor]]]:
    fakes: dict[str, FakeVendor] = {name: kit.make_fake() for name, kit in KITS.items()}
    fakes["vllm"] = FakeVLLM(model=POOL_MODELS["vllm"])
    fakes["bytez"] = FakeBytez(model=POOL_MODELS["bytez"])
    servers = {name: ServerThread(fake, lifespan="off").start() for name, fake in fakes.items()}
    environ = {f"UNIGATE_{name.upper()}_BASE_URL": KITS[name].base_url(servers[name].url) for name in KITS}
    pools = (
        f'[[pools]]\nname = "gpu"\nurls = ["{servers["vllm"].url}"]\nmodels = ["NousResearch/*"]\nmeter = "SM"\n'
        f'[[pools]]\nname = "containers"\nprotocol = "bytez"\nurls = ["{servers["bytez"].url}"]\n'
        'models = ["Qwen/*"]\nmeter = "XS"\n'
    )
    server, running = start_gateway(
        Path(tmp_path_factory.mktemp("responses-matrix")), environ, gateway_config(pools)
    )
    yield running, fakes
    server.stop()
    for thread in servers.values():
        thread.stop()


def _post(running: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {running.key}", "Provider-Key": VENDOR_KEY}
    return httpx.post(f"{running.url}/v1/responses", json=body, headers=headers, timeout=20)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_plain_response_has_the_spec_shape(
    matrix_gateway: tuple[RunningGateway, dict[str, FakeVendor]], backend: str
) -> None:
    running, fakes = matrix_gateway
    fakes[backend].clear()
    model, text = BACKENDS[backend][0], _text(backend, streamed=False)
    request = msgspec.json.decode((SPEC / "text-request.json").read_bytes())
    answer = _post(running, {**request, "model": model})
    assert answer.status_code == 200, answer.text
    ours = answer.json()
    spec = msgspec.json.decode((SPEC / "text.json").read_bytes())
    assert_shaped_like(ours, spec, "response")
    assert ours["status"] == "completed"
    assert ours["model"] == model
    [message] = [item for item in ours["output"] if item["type"] == "message"]
    assert message["content"][0]["text"] == text
    assert fakes[backend].received, "the backend was not called"
    assert request["input"] in msgspec.json.encode(fakes[backend].received[-1].json()).decode()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_streamed_response_has_the_spec_events(
    matrix_gateway: tuple[RunningGateway, dict[str, FakeVendor]], backend: str
) -> None:
    running, fakes = matrix_gateway
    fakes[backend].clear()
    model, text = BACKENDS[backend][0], _text(backend, streamed=True)
    request = msgspec.json.decode((SPEC / "stream-request.json").read_bytes())
    answer = _post(running, {**request, "model": model})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    ours = _our_events(answer.content)
    spec = _spec_events()
    assert _collapse([event["type"] for event in ours]) == _collapse([event["type"] for event in spec])
    assert [event["sequence_number"] for event in ours] == list(range(len(ours)))
    spec_by_type = {event["type"]: event for event in spec}
    for event in ours:
        expected = dict(spec_by_type[event["type"]])
        if "response" in expected:
            status = expected["response"]["status"]
            expected["response"] = {
                key: value
                for key, value in expected["response"].items()
                if status == "completed" or key not in _KEYS_WE_ECHO_ONLY_WHEN_SENT
            }
        assert_shaped_like(event, expected, event["type"])
    deltas = "".join(event["delta"] for event in ours if event["type"] == "response.output_text.delta")
    assert deltas == text
    assert ours[-1]["response"]["output"][0]["content"][0]["text"] == text
    assert ours[-1]["response"]["instructions"] == request["instructions"]
