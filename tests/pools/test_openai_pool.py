"""OpenAI-protocol pools (vLLM and friends) end to end: gateway and fake vLLM members on real
sockets. Chat and text-generation, streamed and not; failover; caps; disconnects; billing."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import msgspec
import pytest

from proxy.accounting.metering import SEED_METERS
from tests.conftest import RunningGateway
from tests.fakes.server import Reply, ServerThread
from tests.fakes.vllm import CHAT_TEXT, COMPLETION_TEXT, FakeVLLM, chat_stream
from tests.pools.conftest import (
    CHAT_MODEL,
    GPT2,
    GatewayFactory,
    Servers,
    assert_billing,
    ledger_rows,
    pool_toml,
    refusing_url,
    sse_events,
    wait_for,
)

CHAT = {"messages": [{"role": "user", "content": "Tell me about dreams"}], "params": {"max_tokens": 32}}
SEED_TEXT = {"text": "Dreams are messages from the "}


def config(chat_urls: list[str], gpt2_urls: list[str] | None = None, **chat_fields: Any) -> str:
    fields = {"models": ["NousResearch/*"], "meter": "SM", "health_interval": 0.2, **chat_fields}
    text = pool_toml("gpu", chat_urls, **fields)
    if gpt2_urls:
        text += pool_toml(
            "gpt2", gpt2_urls, models=[GPT2], task="text-generation", meter="Micro", health_interval=0.2
        )
    return text


@pytest.fixture
def running(servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM) -> RunningGateway:
    url = servers.serve(vllm)
    return pool_gateway(config([url], [url]))


def test_chat_answers_the_envelope_from_a_streamed_upstream_call(
    running: RunningGateway, vllm: FakeVLLM
) -> None:
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] is None
    assert body["output"]["role"] == "assistant" and body["output"]["content"] == CHAT_TEXT
    assert body["usage"]["input_tokens"] == 24 and body["usage"]["output_tokens"] == 4
    assert body["output"]["finish_reason"] == "stop"
    assert_billing(body["billing"], "LLM-SM", SEED_METERS["LLM-SM"])
    upstream = vllm.inference_calls[0]
    assert upstream.path == "/v1/chat/completions"
    sent = upstream.json()
    assert sent["stream"] is True, "a worker is always called in streaming mode"
    assert sent["model"] == CHAT_MODEL and sent["max_tokens"] == 32
    assert "authorization" not in upstream.headers


def test_chat_stream_is_the_unified_sse(running: RunningGateway) -> None:
    with (
        running.client() as client,
        client.stream("POST", f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": True}) as response,
    ):
        raw = response.read().decode()
    events = sse_events(raw)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-3:] == ["finish", "billing", "done"]
    assert events[0][1]["provider"] == "pool:gpu"
    assert "".join(data["text"] for kind, data in events if kind == "text_delta") == CHAT_TEXT
    assert_billing(dict(events[-2][1]), "LLM-SM", SEED_METERS["LLM-SM"])


def test_seed_text_generation_answers_generated_text(running: RunningGateway, vllm: FakeVLLM) -> None:
    with running.client() as client:
        response = client.post(f"/models/v2/{GPT2}", json={**SEED_TEXT, "params": {"max_new_tokens": 5}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] is None
    assert body["output"] == [{"generated_text": SEED_TEXT["text"] + COMPLETION_TEXT}]
    assert_billing(body["billing"], "LLM-Micro", SEED_METERS["LLM-Micro"])
    assert response.headers["Inference-Meter"] == "LLM-Micro"
    assert float(response.headers["Inference-Cost"]) == pytest.approx(body["billing"]["cost"], abs=1e-10)
    sent = vllm.inference_calls[0]
    assert sent.path == "/v1/completions"
    assert sent.json()["prompt"] == SEED_TEXT["text"]
    assert sent.json()["max_tokens"] == 5 and sent.json()["stream"] is True


def test_text_generation_streams_raw_text_to_the_bytez_sdks(running: RunningGateway) -> None:
    with (
        running.client(lang="python") as client,
        client.stream("POST", f"/models/v2/{GPT2}", json={**SEED_TEXT, "stream": True}) as response,
    ):
        assert response.headers["content-type"].startswith("text/plain")
        assert response.read().decode() == COMPLETION_TEXT


def test_text_generation_stream_as_sse_carries_billing(running: RunningGateway) -> None:
    with (
        running.client() as client,
        client.stream("POST", f"/models/v2/{GPT2}", json={**SEED_TEXT, "stream": True}) as response,
    ):
        events = sse_events(response.read().decode())
    assert "".join(data["text"] for kind, data in events if kind == "text_delta") == COMPLETION_TEXT
    billing = next(data for kind, data in events if kind == "billing")
    assert_billing(billing, "LLM-Micro", SEED_METERS["LLM-Micro"])


def test_tool_calls_and_reasoning_through_an_ollama_stream(running: RunningGateway) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json={**CHAT, "tools": [tool]})
    body = response.json()
    assert body["output"]["finish_reason"] == "tool_calls"
    assert body["output"]["tool_calls"] == [
        {
            "id": "call_mmmf8pcj",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert body["output"]["reasoning"][0]["text"].startswith("The user wants the weather")


def test_a_workers_404_passes_through_classified(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    running = pool_gateway(config([servers.serve(vllm)], model="does-not-exist"))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["provider"] == "pool:gpu"
    assert len(vllm.inference_calls) == 1, "a 404 is not retried on another member"


@pytest.mark.parametrize("stream", [False, True])
def test_a_refusing_member_is_skipped(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM, stream: bool
) -> None:
    running = pool_gateway(config([refusing_url(), servers.serve(vllm)], health_interval=60))
    with running.client() as client:
        for _ in range(4):
            response = client.post(f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": stream})
            assert response.status_code == 200, response.text
    assert len(vllm.inference_calls) == 4


@pytest.mark.parametrize("stream", [False, True])
def test_a_member_that_dies_fails_over_before_the_first_byte(
    servers: Servers, pool_gateway: GatewayFactory, stream: bool
) -> None:
    doomed, survivor = FakeVLLM(), FakeVLLM()
    doomed_server = ServerThread(doomed, lifespan="off").start()
    running = pool_gateway(config([doomed_server.url, servers.serve(survivor)], health_interval=60))
    members = running.gateway.pools.pools["gpu"].members
    assert wait_for(lambda: [m.state for m in members] == ["healthy", "healthy"])
    doomed_server.stop()
    with running.client() as client:
        for _ in range(3):
            response = client.post(f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": stream})
            assert response.status_code == 200, response.text
            assert CHAT_TEXT in response.text or "text_delta" in response.text
    assert len(survivor.inference_calls) == 3
    assert wait_for(lambda: members[0].state == "down"), "the failed request got its member probed"
    rows = ledger_rows(running, 3)
    assert max(row["attempts"] for row in rows) == 2, "one request failed over to the other member"


def test_a_503_answer_fails_over_to_another_member(servers: Servers, pool_gateway: GatewayFactory) -> None:
    busy, calm = FakeVLLM(), FakeVLLM()
    busy.enqueue(Reply.json({"object": "error", "message": "busy", "type": "ServiceUnavailable"}, status=503))
    running = pool_gateway(config([servers.serve(busy), servers.serve(calm)], health_interval=60))
    with running.client() as client:
        statuses = [client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT).status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert len(busy.inference_calls) + len(calm.inference_calls) == 3, "two answers and one 503"
    assert sorted(row["attempts"] for row in ledger_rows(running, 2)) == [1, 2]


def test_when_every_member_failed_the_request_ends_503(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    first, second = FakeVLLM(), FakeVLLM()
    for fake in (first, second):
        fake.enqueue(
            Reply.json({"object": "error", "message": "busy", "type": "ServiceUnavailable"}, status=503)
        )
    running = pool_gateway(config([servers.serve(first), servers.serve(second)], health_interval=60))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code == 503 and response.json()["code"] == "overloaded"
    assert (len(first.inference_calls), len(second.inference_calls)) == (1, 1), "each member tried once"


def test_a_member_answering_503_is_skipped(servers: Servers, pool_gateway: GatewayFactory) -> None:
    loading, ready = FakeVLLM(), FakeVLLM()
    loading.loading = True
    running = pool_gateway(config([servers.serve(loading), servers.serve(ready)], health_interval=60))
    with running.client() as client:
        for _ in range(3):
            response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
            assert response.status_code == 200, response.text
    assert len(ready.inference_calls) == 3
    assert len(loading.inference_calls) <= 1, (
        "after one 503 the member is probed and left alone while warming"
    )
    member = running.gateway.pools.pools["gpu"].members[0]
    assert wait_for(lambda: member.state == "warming")


def test_every_member_down_is_503_overloaded(pool_gateway: GatewayFactory) -> None:
    running = pool_gateway(config([refusing_url(), refusing_url()]))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code in (502, 503)
    assert response.json()["code"] in ("connection", "overloaded")
    assert "127.0.0.1" not in response.text, "member addresses stay out of client messages"


def test_least_outstanding_spreads_and_caps_hold(servers: Servers, pool_gateway: GatewayFactory) -> None:
    first, second = FakeVLLM(), FakeVLLM()
    for fake in (first, second):
        for _ in range(3):
            fake.enqueue(chat_stream(CHAT_MODEL, event_delay=0.08))
    running = pool_gateway(
        config([servers.serve(first), servers.serve(second)], concurrency=1, acquire_timeout=10)
    )
    results: list[int] = []

    def call() -> None:
        with running.client() as client:
            results.append(client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT, timeout=20).status_code)

    workers = [threading.Thread(target=call) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [200] * 4
    assert first.peak == 1 and second.peak == 1, "one request at a time per member (concurrency = 1)"
    assert len(first.inference_calls) == 2 and len(second.inference_calls) == 2


def test_busy_pool_answers_503_after_a_bounded_wait(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    vllm.enqueue(chat_stream(CHAT_MODEL, event_delay=0.2))
    running = pool_gateway(
        config([servers.serve(vllm)], concurrency=1, acquire_timeout=0.3) + "[dispatch.retry]\nattempts = 1\n"
    )

    def hold_the_slot() -> None:
        with running.client() as client:
            client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)

    slow = threading.Thread(target=hold_the_slot)
    slow.start()
    assert wait_for(lambda: vllm.busy == 1)
    started = time.monotonic()
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    waited = time.monotonic() - started
    slow.join()
    assert response.status_code == 503 and response.json()["code"] == "overloaded"
    assert 0.25 <= waited < 2.0
    assert vllm.peak == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_closes_the_worker_connection(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM, stream: bool
) -> None:
    vllm.enqueue(chat_stream(CHAT_MODEL, tuple(f" w{i}" for i in range(40)), event_delay=0.1))
    running = pool_gateway(config([servers.serve(vllm)]))
    with running.client() as client:
        if stream:
            with client.stream("POST", f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": True}) as response:
                for line in response.iter_lines():
                    if "text_delta" in line:
                        break
        else:
            with pytest.raises(httpx.ReadTimeout):
                client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT, timeout=0.5)
    assert wait_for(lambda: vllm.disconnects == 1), "the worker saw its connection close"
    rows = ledger_rows(running)
    assert rows[0]["status"] == "client_disconnected"
    assert wait_for(lambda: running.gateway.pools.pools["gpu"].members[0].outstanding == 0)


def test_embeddings_through_the_openai_surface(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    url = servers.serve(vllm)
    running = pool_gateway(
        pool_toml("embed", [url], models=["BAAI/*"], task="feature-extraction", meter="XS")
    )
    with running.client() as client:
        response = client.post(
            "/v1/embeddings", json={"model": "BAAI/bge-small-en-v1.5", "input": ["a", "bcd"]}
        )
        native = client.post("/models/v2/BAAI/bge-small-en-v1.5", json={"text": "bcd"})
    assert response.status_code == 200, response.text
    vectors = [item["embedding"] for item in response.json()["data"]]
    assert [vector[0] for vector in vectors] == [1.0, 3.0]
    assert native.status_code == 200, native.text
    assert native.json()["output"][0] == 3.0
    assert_billing(native.json()["billing"], "XS", SEED_METERS["XS"])
    assert {call.path for call in vllm.inference_calls} == {"/v1/embeddings"}


def test_pool_key_and_member_override_from_the_environment(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    url = servers.serve(vllm)
    running = pool_gateway(
        config([refusing_url()], api_key="worker-secret-1"), {"UNIGATE_POOL_GPU_URLS": f"{url}/v1/"}
    )
    assert [member.url for member in running.gateway.pools.pools["gpu"].members] == [url]
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code == 200, response.text
    assert vllm.inference_calls[0].headers["authorization"] == "Bearer worker-secret-1"


def test_non_streamed_and_streamed_billing_agree(running: RunningGateway) -> None:
    with running.client() as client:
        plain = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT).json()["billing"]
        with client.stream("POST", f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": True}) as response:
            streamed = next(data for kind, data in sse_events(response.read().decode()) if kind == "billing")
    for billing in (plain, streamed):
        assert_billing(billing, "LLM-SM", SEED_METERS["LLM-SM"])
    rows = ledger_rows(running, 2)
    assert [row["meter"] for row in rows] == ["LLM-SM", "LLM-SM"]
    assert [row["cost"] for row in rows] == [plain["cost"], streamed["cost"]]


def test_vllm_error_body_inside_a_200_stream_is_an_error_event(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    vllm.enqueue(
        Reply(
            headers={"Content-Type": "text/event-stream"},
            events=[
                b'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
                b'data: {"object":"error","message":"CUDA out of memory","type":"InternalServerError","code":500}\n\n',
            ],
        )
    )
    running = pool_gateway(config([servers.serve(vllm)]))
    with (
        running.client() as client,
        client.stream("POST", f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": True}) as response,
    ):
        events = sse_events(response.read().decode())
    assert [kind for kind, _ in events][-3:] == ["error", "billing", "done"]
    error = events[-3][1]
    assert error["code"] == "server_error" and error["provider"] == "pool:gpu"


def test_pool_chat_through_the_openai_surface(running: RunningGateway) -> None:
    body = {"model": CHAT_MODEL, "messages": CHAT["messages"]}
    with running.client() as client:
        plain = client.post("/v1/chat/completions", json=body)
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
            raw = response.read().decode()
    assert plain.status_code == 200, plain.text
    assert plain.json()["choices"][0]["message"]["content"] == CHAT_TEXT
    assert raw.rstrip().endswith("data: [DONE]")
    chunks = [line[6:] for line in raw.split("\n") if line.startswith("data: {")]
    assert (
        "".join(
            choice["delta"].get("content") or ""
            for chunk in chunks
            for choice in msgspec.json.decode(chunk)["choices"]
        )
        == CHAT_TEXT
    )
