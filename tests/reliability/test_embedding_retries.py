"""Embeddings survive a flaky vendor too: retried at the same target under `[dispatch.retry]`,
never sent to another model (its vectors would live in another space), one ledger row; and
they are observed as chat is (an attempt span each, a retry counted), being the same loop."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.errors import Code
from tests.conftest import RunningGateway
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import client, config, ledger, wait_for

EMBED = {"model": "openai/text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"}


def _vectors() -> Reply:
    data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(2)]
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )


@pytest.mark.timeout(20)
def test_two_503s_then_vectors_is_three_attempts_and_one_row(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    overloaded = OPENAI.errors[Code.OVERLOADED]
    openai_fake.enqueue(overloaded, overloaded, _vectors())
    with client(gateway) as http:
        answer = http.post("/v1/embeddings", json=EMBED)
    assert answer.status_code == 200, answer.text
    assert [item["embedding"] for item in answer.json()["data"]] == [[0.1, 0.2, 0.3]] * 2
    assert [request.path for request in openai_fake.received] == ["/v1/embeddings"] * 3
    assert anthropic_fake.received == []
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"], row["input_tokens"]) == ("completed", 3, 2)


@pytest.mark.timeout(20)
def test_a_client_error_is_not_retried_and_attempts_stop_at_the_policy(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=2))
    openai_fake.enqueue(OPENAI.errors[Code.INVALID_REQUEST])
    with client(gateway) as http:
        assert http.post("/v1/embeddings", json=EMBED).status_code == 400
    assert len(openai_fake.received) == 1
    openai_fake.clear()
    server_error = OPENAI.errors[Code.SERVER_ERROR]
    openai_fake.enqueue(server_error, server_error, server_error)
    with client(gateway) as http:
        assert http.post("/v1/embeddings", json=EMBED).status_code == 502
    assert len(openai_fake.received) == 2  # attempts = 2
    rows = ledger(gateway, count=2)
    assert sorted((row["status"], row["attempts"]) for row in rows) == [
        ("upstream_error", 1),
        ("upstream_error", 2),
    ]


@pytest.mark.timeout(20)
def test_a_client_that_leaves_cancels_the_embedding_call(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(first_byte=10.0, total=10.0))
    slow = _vectors()
    slow.delay = 5.0
    openai_fake.enqueue(slow)
    with client(gateway, timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        http.post("/v1/embeddings", json=EMBED)
    wait_for(lambda: openai_fake.disconnects == 1, 3.0)
    [row] = ledger(gateway)
    assert row["status"] == "client_disconnected"


def _retries(gateway: RunningGateway, provider: str) -> float:
    """`unigate_retries_total{provider=...}` as the gateway's /metrics says it."""
    response = httpx.get(f"{gateway.url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "unigate_retries_total" and sample.labels.get("provider") == provider
    )


@pytest.mark.timeout(20)
def test_embedding_attempts_are_spans_and_a_retry_is_counted_as_for_chat(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    gateway = make_gateway(config(attempts=2) + "\n[tracing]\nenabled = true\n")
    exporter = InMemorySpanExporter()
    app = make_gateway.servers[gateway.url].server.config.app
    app.state.observatory.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = _retries(gateway, "openai")
    openai_fake.enqueue(OPENAI.errors[Code.OVERLOADED], _vectors())
    with client(gateway) as http:
        answer = http.post("/v1/embeddings", json=EMBED)
    assert answer.status_code == 200, answer.text
    wait_for(lambda: any(span.kind.name == "SERVER" for span in exporter.get_finished_spans()), 3.0)
    spans = exporter.get_finished_spans()
    [root] = [span for span in spans if span.kind.name == "SERVER"]
    attempts = [
        span for span in spans if span.parent is not None and span.parent.span_id == root.context.span_id
    ]
    assert [span.attributes["unigate.attempt.kind"] for span in attempts] == ["first", "retry"]
    assert {span.attributes["gen_ai.operation.name"] for span in attempts} == {"embeddings"}
    assert attempts[0].attributes["error.type"] == "overloaded"
    assert attempts[1].attributes["gen_ai.request.model"] == "text-embedding-3-small"
    wait_for(lambda: _retries(gateway, "openai") - before == 1, 3.0)
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"]) == ("completed", 2)
