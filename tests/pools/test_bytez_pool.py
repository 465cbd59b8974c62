"""Bytez-protocol pools end to end: gateway and fake Bytez model containers on real sockets."""

from __future__ import annotations

import threading

import httpx
import pytest

from proxy.accounting.metering import SEED_METERS
from tests.fakes.bytez import ANSWER, CONTINUATION, CONTINUATION_PIECES, FakeBytez, openai_mode_stream
from tests.fakes.server import Reply
from tests.pools.conftest import (
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

SEED_TEXT = {"text": "Dreams are messages from the "}
CHAT_MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"messages": [{"role": "user", "content": "What are dreams?"}], "params": {"max_new_tokens": 20}}


def gpt2_pool(urls: list[str], **fields: object) -> str:
    settings: dict[str, object] = {"health_interval": 0.2, **fields}
    return pool_toml(
        "containers", urls, protocol="bytez", models=[GPT2], task="text-generation", meter="SM", **settings
    )


def chat_pool(urls: list[str]) -> str:
    return pool_toml("chat", urls, protocol="bytez", models=["Qwen/*"], meter="XS", health_interval=0.2)


def test_seed_gpt2_request_answers_generated_text(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(gpt2_pool([servers.serve(bytez)]))
    with running.client() as client:
        response = client.post(f"/models/v2/{GPT2}", json={**SEED_TEXT, "params": {"max_new_tokens": 8}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "output": [{"generated_text": SEED_TEXT["text"] + CONTINUATION}],
        "billing": body["billing"],
        "id": body["id"],
        "model": GPT2,
        "error": None,
        "code": None,
        "usage": None,
        "provider": None,
        "warnings": [],
    }
    assert_billing(body["billing"], "LLM-SM", SEED_METERS["LLM-SM"])
    for name in ("Inference-Meter", "Inference-Meter-Price", "Inference-Time", "Inference-Cost"):
        assert name in response.headers
    sent = bytez.inference_calls[0]
    assert sent.path == "/run"
    assert sent.json() == {"text": SEED_TEXT["text"], "params": {"max_new_tokens": 8}, "stream": False}
    assert ledger_rows(running)[0]["meter"] == "LLM-SM"


def test_sdk_input_is_mapped_by_the_models_task(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(gpt2_pool([servers.serve(bytez)]))
    with running.client() as client:
        response = client.post(
            f"/models/v2/{GPT2}", json={"input": SEED_TEXT["text"], "params": {"api_key": "x"}}
        )
    assert response.status_code == 200, response.text
    assert bytez.inference_calls[0].json() == {"text": SEED_TEXT["text"], "stream": False}, (
        "api_key is never forwarded"
    )


def test_text_generation_streams_raw_text(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(gpt2_pool([servers.serve(bytez)]))
    with (
        running.client(lang="javascript") as client,
        client.stream("POST", f"/models/v2/{GPT2}", json={**SEED_TEXT, "stream": True}) as response,
    ):
        assert response.status_code == 200
        assert response.read().decode() == CONTINUATION
    assert bytez.inference_calls[0].json()["stream"] is True


def test_text_generation_stream_as_unified_sse(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(gpt2_pool([servers.serve(bytez)]))
    with (
        running.client() as client,
        client.stream("POST", f"/models/v2/{GPT2}", json={**SEED_TEXT, "stream": True}) as response,
    ):
        events = sse_events(response.read().decode())
    assert [data["text"] for kind, data in events if kind == "text_delta"] == list(CONTINUATION_PIECES)
    assert [kind for kind, _ in events][-3:] == ["finish", "billing", "done"]
    assert_billing(events[-2][1], "LLM-SM", SEED_METERS["LLM-SM"])


@pytest.mark.parametrize("openai_mode", [True, False])
def test_chat_reads_text_and_streams_upstream(
    servers: Servers, pool_gateway: GatewayFactory, openai_mode: bool
) -> None:
    container = FakeBytez(task="chat", model=CHAT_MODEL, openai_mode=openai_mode)
    running = pool_gateway(chat_pool([servers.serve(container)]))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["output"]["content"] == ANSWER and body["output"]["finish_reason"] == "stop"
    assert_billing(body["billing"], "LLM-XS", SEED_METERS["LLM-XS"])
    sent = container.inference_calls[0].json()
    assert sent["text"] == CHAT["messages"], "the container reads chat messages from `text`"
    assert sent["stream"] is True
    assert sent["params"] == {"max_new_tokens": 20, "compliance_format": "openai://chat/completions"}


@pytest.mark.parametrize("openai_mode", [True, False])
def test_chat_stream_is_the_unified_sse(
    servers: Servers, pool_gateway: GatewayFactory, openai_mode: bool
) -> None:
    container = FakeBytez(task="chat", model=CHAT_MODEL, openai_mode=openai_mode)
    running = pool_gateway(chat_pool([servers.serve(container)]))
    with (
        running.client() as client,
        client.stream("POST", f"/models/v2/{CHAT_MODEL}", json={**CHAT, "stream": True}) as response,
    ):
        events = sse_events(response.read().decode())
    assert events[0] == (
        "start",
        {"type": "start", "id": events[0][1]["id"], "model": CHAT_MODEL, "provider": "pool:chat"},
    )
    assert "".join(data["text"] for kind, data in events if kind == "text_delta") == ANSWER
    assert [kind for kind, _ in events][-3:] == ["finish", "billing", "done"]


def test_openai_mode_json_answer_keeps_its_top_level_finish_reason(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    container = FakeBytez(task="chat", model=CHAT_MODEL)
    container.enqueue(
        Reply.json(
            {
                "id": "chatcmpl-x",
                "object": "chat.completion",
                "model": CHAT_MODEL,
                "choices": [{"message": {"role": "assistant", "content": "Short."}, "logprobs": None}],
                "finish_reason": "length",
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
        )
    )
    running = pool_gateway(chat_pool([servers.serve(container)]))
    with running.client() as client:
        body = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT).json()
    assert body["output"]["content"] == "Short."
    assert body["output"]["finish_reason"] == "length" and body["output"]["raw_finish_reason"] == "length"


def test_container_errors_never_forward_the_stack_trace(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(gpt2_pool([servers.serve(bytez)]))
    with running.client() as client:
        response = client.post(f"/models/v2/{GPT2}", json={"text": ["not", "a", "string"]})
        checked = client.post(f"/models/v2/{GPT2}", json={"question": "no text"})
    assert checked.status_code == 400 and checked.json()["code"] == "invalid_request"
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_request" and body["output"] is None
    bytez.enqueue(
        Reply.json(
            {"error": "CUDA error: device-side assert", "stack_trace": "Traceback ... /home/bytez"},
            status=422,
        )
    )
    with running.client() as client:
        failed = client.post(f"/models/v2/{GPT2}", json=SEED_TEXT)
    assert failed.status_code == 400
    assert failed.json()["error"] == "pool:containers: CUDA error: device-side assert"
    assert failed.json()["provider"] == "pool:containers"
    for text in (response.text, failed.text):
        assert "Traceback" not in text and "stack" not in text and "/home/bytez" not in text


def test_warming_and_refusing_containers_are_skipped(servers: Servers, pool_gateway: GatewayFactory) -> None:
    warming, ready = FakeBytez(), FakeBytez()
    warming.loading = True
    running = pool_gateway(
        gpt2_pool([refusing_url(), servers.serve(warming), servers.serve(ready)], health_interval=60)
    )
    with running.client() as client:
        for _ in range(3):
            response = client.post(f"/models/v2/{GPT2}", json=SEED_TEXT)
            assert response.status_code == 200, response.text
    assert len(ready.inference_calls) == 3
    members = running.gateway.pools.pools["containers"].members
    assert wait_for(lambda: [m.state for m in members] == ["down", "warming", "healthy"])
    warming.loading = False
    assert running.gateway.pools.pools["containers"].config.health_interval == 60


def test_warming_container_is_picked_once_it_is_ready(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    bytez.loading = True
    running = pool_gateway(gpt2_pool([servers.serve(bytez)], acquire_timeout=5))
    member = running.gateway.pools.pools["containers"].members[0]
    assert wait_for(lambda: member.state == "warming")
    threading.Timer(0.3, lambda: setattr(bytez, "loading", False)).start()
    with running.client() as client:
        response = client.post(f"/models/v2/{GPT2}", json=SEED_TEXT)
    assert response.status_code == 200, response.text
    assert len(bytez.inference_calls) == 1


def test_a_container_never_sees_two_requests_at_once(servers: Servers, pool_gateway: GatewayFactory) -> None:
    container = FakeBytez()
    for _ in range(4):
        container.enqueue(Reply.json({"output": [{"generated_text": "x"}]}, delay=0.15))
    running = pool_gateway(gpt2_pool([servers.serve(container)], concurrency=8, acquire_timeout=10))
    statuses: list[int] = []

    def call() -> None:
        with running.client() as client:
            statuses.append(client.post(f"/models/v2/{GPT2}", json=SEED_TEXT, timeout=20).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert container.peak == 1, "a Bytez container runs one inference at a time, whatever concurrency says"


@pytest.mark.parametrize(
    ("task", "body", "sent", "output"),
    [
        (
            "question-answering",
            {"question": "Where?", "context": "It is in Paris"},
            {"question": "Where?", "context": "It is in Paris", "stream": False},
            {"answer": "Paris", "score": 0.91, "start": 0, "end": 1},
        ),
        (
            "zero-shot-classification",
            {"input": {"text": "I love it", "candidate_labels": ["positive", "negative"]}},
            {"text": "I love it", "candidate_labels": ["positive", "negative"], "stream": False},
            {"sequence": "I love it", "labels": ["positive", "negative"], "scores": [0.5, 0.333]},
        ),
        (
            "image-classification",
            {"input": "https://example.com/cat.png"},
            {"url": "https://example.com/cat.png", "stream": False},
            [{"label": "tabby cat", "score": 0.93}],
        ),
    ],
)
def test_other_tasks_pass_through(
    servers: Servers,
    pool_gateway: GatewayFactory,
    task: str,
    body: dict[str, object],
    sent: dict[str, object],
    output: object,
) -> None:
    container = FakeBytez(task=task)
    running = pool_gateway(
        pool_toml(
            "tasks", [servers.serve(container)], protocol="bytez", models=["acme/*"], task=task, meter="MD"
        )
    )
    with running.client() as client:
        response = client.post("/models/v2/acme/model", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == output
    assert response.json()["model"] == "acme/model"
    assert_billing(response.json()["billing"], "MD", SEED_METERS["MD"])
    assert container.inference_calls[0].json() == sent


def test_feature_extraction_on_a_container_through_the_openai_surface(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    container = FakeBytez(task="feature-extraction")
    running = pool_gateway(
        pool_toml(
            "vectors",
            [servers.serve(container)],
            protocol="bytez",
            models=["acme/*"],
            task="feature-extraction",
        )
    )
    with running.client() as client:
        response = client.post("/v1/embeddings", json={"model": "acme/minilm", "input": "four"})
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["embedding"] == [4.0, 2.0, 1.0], "token vectors are mean-pooled"


def test_a_client_that_leaves_closes_the_container_connection(
    servers: Servers, pool_gateway: GatewayFactory
) -> None:
    container = FakeBytez(task="chat", model=CHAT_MODEL)
    container.enqueue(
        Reply(
            headers={"Content-Type": "text/event-stream"},
            events=openai_mode_stream(CHAT_MODEL) * 5,
            event_delay=0.2,
        )
    )
    running = pool_gateway(chat_pool([servers.serve(container)]))
    with running.client() as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT, timeout=0.5)
    assert wait_for(lambda: container.disconnects == 1), "the container saw its connection close"
    member = running.gateway.pools.pools["chat"].members[0]
    assert wait_for(lambda: member.outstanding == 0), "the slot is free again"
