"""A client's W3C trace reaches every kind of worker pool: the `traceparent` the attempt span
injects goes to Bytez containers as it goes to OpenAI-protocol servers, on chat (streamed or
not), on tasks and on embeddings, so a worker's own spans join the caller's trace (issue #13)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from proxy.observability import observatory
from proxy.observability.tracing import Tracing
from schemas.config import TracingConfig
from tests.fakes.bytez import FakeBytez
from tests.fakes.server import Received
from tests.fakes.vllm import FakeVLLM
from tests.pools.conftest import GPT2, GatewayFactory, Servers, pool_toml, wait_for

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


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Every span the gateways started in this test make, in the OTel SDK's in-memory exporter."""
    exporter = InMemorySpanExporter()

    class Recorded(Tracing):
        def __init__(self, config: TracingConfig) -> None:
            super().__init__(config)
            assert self.provider is not None
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))

    monkeypatch.setattr(observatory, "Tracing", Recorded)
    return exporter


def _parent_is_the_attempt(received: list[Received], exporter: InMemorySpanExporter) -> None:
    """Each worker request's `traceparent`: the client's trace, under the embedding attempt's span."""
    wait_for(lambda: any(span.kind == SpanKind.SERVER for span in exporter.get_finished_spans()))
    finished = exporter.get_finished_spans()
    [request] = [span for span in finished if span.kind == SpanKind.SERVER]
    [attempt] = [span for span in finished if span.kind == SpanKind.CLIENT]
    assert request.context.trace_id == int(TRACE_ID, 16)
    assert attempt.parent is not None and attempt.parent.span_id == request.context.span_id
    assert attempt.attributes is not None and attempt.attributes["gen_ai.operation.name"] == "embeddings"
    assert received
    for call in received:
        version, trace_id, span_id, flags = call.headers["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
        assert int(span_id, 16) == attempt.context.span_id


def test_openai_protocol_workers_get_it_on_embeddings(
    servers: Servers, pool_gateway: GatewayFactory, vllm: FakeVLLM, spans: InMemorySpanExporter
) -> None:
    url = servers.serve(vllm)
    running = pool_gateway(
        pool_toml("embed", [url], models=["BAAI/*"], task="feature-extraction", meter="XS") + TRACING
    )
    with running.client() as client:
        response = client.post(
            "/v1/embeddings",
            json={"model": "BAAI/bge-small-en-v1.5", "input": ["a", "bcd"]},
            headers={"traceparent": PARENT},
        )
    assert response.status_code == 200, response.text
    _parent_is_the_attempt(vllm.inference_calls, spans)


def test_bytez_containers_get_it_on_embeddings(
    servers: Servers, pool_gateway: GatewayFactory, spans: InMemorySpanExporter
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
        + TRACING
    )
    with running.client() as client:
        response = client.post(
            "/v1/embeddings",
            json={"model": "acme/minilm", "input": ["four", "five"]},
            headers={"traceparent": PARENT},
        )
    assert response.status_code == 200, response.text
    assert len(container.inference_calls) == 2, "one POST /run per text"
    _parent_is_the_attempt(container.inference_calls, spans)
