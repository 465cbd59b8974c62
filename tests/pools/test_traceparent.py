"""A client's W3C trace reaches every kind of worker pool: the `traceparent` the attempt span
injects goes to Bytez containers as it goes to OpenAI-protocol servers, on chat (streamed or
not) and on tasks, so a worker's own spans join the caller's trace (issue #13)."""

from __future__ import annotations

import pytest

from tests.fakes.bytez import FakeBytez
from tests.fakes.server import Received
from tests.fakes.vllm import FakeVLLM
from tests.pools.conftest import GPT2, GatewayFactory, Servers, pool_toml

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
TRACING = "\n[tracing]\nenabled = true\n"
CHAT_MODEL = "Qwen/Qwen3-0.6B"
CHAT = {"messages": [{"role": "user", "content": "What are dreams?"}], "params": {"max_new_tokens": 8}}
SEED_TEXT = {"text": "Dreams are messages from the ", "params": {"max_new_tokens": 8}}


def _joined_the_trace(received: Received) -> None:
    version, trace_id, span_id, flags = received.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != "b7ad6b7169203331", "the worker's parent is the attempt span, not the client's"


def _config(protocol: str, url: str) -> str:
    return (
        pool_toml("chat", [url], protocol=protocol, models=["Qwen/*"], meter="XS", health_interval=0.2)
        + pool_toml(
            "gpt2",
            [url],
            protocol=protocol,
            models=[GPT2],
            task="text-generation",
            meter="SM",
            health_interval=0.2,
        )
        + TRACING
    )


@pytest.mark.parametrize("body", [CHAT, {**CHAT, "stream": True}], ids=["chat", "chat-stream"])
def test_bytez_containers_get_the_traceparent_on_chat(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez, body: dict[str, object]
) -> None:
    running = pool_gateway(_config("bytez", servers.serve(bytez)))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=body, headers={"traceparent": PARENT})
    assert response.status_code == 200, response.text
    [call] = bytez.inference_calls
    _joined_the_trace(call)


def test_bytez_containers_get_the_traceparent_on_a_task(
    servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez
) -> None:
    running = pool_gateway(_config("bytez", servers.serve(bytez)))
    with running.client() as client:
        response = client.post(f"/models/v2/{GPT2}", json=SEED_TEXT, headers={"traceparent": PARENT})
    assert response.status_code == 200, response.text
    [call] = bytez.inference_calls
    _joined_the_trace(call)


def test_openai_protocol_workers_get_it_the_same_way(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM
) -> None:
    running = pool_gateway(_config("openai", servers.serve(vllm)))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT, headers={"traceparent": PARENT})
    assert response.status_code == 200, response.text
    [call] = vllm.inference_calls
    _joined_the_trace(call)


def test_no_tracing_no_traceparent(servers: Servers, pool_gateway: GatewayFactory, bytez: FakeBytez) -> None:
    running = pool_gateway(_config("bytez", servers.serve(bytez)).replace(TRACING, ""))
    with running.client() as client:
        response = client.post(f"/models/v2/{CHAT_MODEL}", json=CHAT, headers={"traceparent": PARENT})
    assert response.status_code == 200, response.text
    [call] = bytez.inference_calls
    assert "traceparent" not in call.headers
