"""`/v1/completions` on an OpenAI-protocol pool: the worker's own `/v1/completions` gets the
body as the client wrote it (`suffix`, `logprobs`, `echo`, `best_of`), and its answer comes
back under our id, billed by the pool's meter."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.fakes.vllm import COMPLETION_TEXT, FakeVLLM
from tests.pools.conftest import CHAT_MODEL, GatewayFactory, Servers, pool_toml

LEGACY = {
    "prompt": "Dreams are",
    "suffix": " end.",
    "logprobs": 1,
    "echo": True,
    "best_of": 2,
    "max_tokens": 5,
}


@pytest.fixture
def running(servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM) -> RunningGateway:
    return pool_gateway(pool_toml("gpu", [servers.serve(vllm)], models=["NousResearch/*"], meter="SM"))


def _post(running: RunningGateway, body: dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {running.key}"}
    return httpx.post(f"{running.url}/v1/completions", json=body, headers=headers, timeout=10)


def test_the_worker_gets_the_legacy_fields_and_answers_natively(
    running: RunningGateway, vllm: FakeVLLM
) -> None:
    answer = _post(running, {"model": CHAT_MODEL, **LEGACY})
    assert answer.status_code == 200, answer.text
    [call] = vllm.inference_calls
    assert call.path == "/v1/completions"
    sent = call.json()
    for name, value in LEGACY.items():
        assert sent[name] == value
    assert sent["stream"] is False
    assert "unigate-warnings" not in answer.headers
    body = answer.json()
    assert body["id"] == f"cmpl-{answer.headers['x-request-id']}"
    assert body["model"] == CHAT_MODEL
    assert body["choices"][0]["text"] == COMPLETION_TEXT
    assert body["usage"]["prompt_tokens"] == 24
    assert float(answer.headers["inference-cost"]) > 0


def test_a_streamed_completion_from_the_worker(running: RunningGateway, vllm: FakeVLLM) -> None:
    body = {"model": CHAT_MODEL, **LEGACY, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream(
        "POST",
        f"{running.url}/v1/completions",
        json=body,
        headers={"Authorization": f"Bearer {running.key}"},
        timeout=10,
    ) as streamed:
        lines = [line for line in streamed.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [httpx.Response(200, content=line[6:]).json() for line in lines[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == COMPLETION_TEXT
    assert chunks[-1]["usage"]["completion_tokens"] == 4 and chunks[-1]["usage"]["cost"] is not None
    assert vllm.inference_calls[0].json()["suffix"] == " end."
