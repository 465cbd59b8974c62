"""Issue 13: the OTLP export path end to end. A real `unigate serve` with the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` set exports through the OpenTelemetry SDK's own OTLP/HTTP
exporter to a receiver this test runs on 127.0.0.1; the receiver decodes what arrived with
OpenTelemetry's protobuf definitions. The spans carry the gen_ai attributes and the
parent/child shape; no secret and no prompt is in any byte sent."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.fakes.openai import fake_openai
from tests.fakes.server import ServerThread
from tests.reliability.harness import OPENAI_ONLY, config, wait_for
from tests.serve_process import UnigateServe

CANARY = "sk-canary-otlp-7c1e9b3d5f2a4e6b"
PROMPT_CANARY = "prompt-canary-0b9d7f5e3c1a"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


class Receiver:
    """An OTLP/HTTP traces endpoint: every POST /v1/traces body, decompressed, kept."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        with self._lock:
            self.paths.append(scope["path"])
            self.content_types.append(headers.get("content-type", ""))
            self.bodies.append(body)
        # an empty ExportTraceServiceResponse: full success
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received so far."""
        found = []
        with self._lock:
            bodies = list(self.bodies)
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    found.extend((resource, span) for span in scope_spans.spans)
        return found


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    return getattr(value, kind) if kind else None


def attributes(span: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in span.attributes}


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    server = ServerThread(app, lifespan="off").start()
    yield app, server.url
    server.stop()


@pytest.fixture
def vendor_url() -> Iterator[str]:
    server = ServerThread(fake_openai(), lifespan="off").start()
    yield server.url
    server.stop()


@pytest.mark.timeout(90)
def test_spans_reach_an_otlp_receiver_with_their_attributes_and_no_secret(
    tmp_path: Path, receiver: tuple[Receiver, str], vendor_url: str
) -> None:
    received, receiver_url = receiver
    serve = UnigateServe(
        tmp_path,
        config(attempts=1),
        {
            "UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,  # the standard variable, a bare address
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # the SDK's batch processor exports every 0.1 s
        },
    )
    serve.start()
    try:
        response = httpx.post(
            f"{serve.url}{OPENAI_ONLY}",
            json={"messages": [{"role": "user", "content": f"say {PROMPT_CANARY}"}]},
            headers={
                "Authorization": f"Key {serve.key}",
                "Provider-Key": CANARY,
                "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01",
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        wait_for(lambda: any(span.kind == span.SPAN_KIND_SERVER for _, span in received.spans()), 20)
    finally:
        serve.stop()
    assert set(received.paths) == {"/v1/traces"}, "the bare endpoint gained OTLP's traces path"
    assert set(received.content_types) == {"application/x-protobuf"}
    spans = received.spans()
    [(resource, root)] = [(r, span) for r, span in spans if span.kind == span.SPAN_KIND_SERVER]
    assert resource["service.name"] == "unigate"
    assert root.trace_id.hex() == TRACE_ID and root.parent_span_id.hex() == PARENT_SPAN
    top = attributes(root)
    assert top["gen_ai.operation.name"] == "chat"
    assert top["gen_ai.provider.name"] == "openai"
    assert top["gen_ai.request.model"] == "solo/openai"
    assert top["gen_ai.usage.input_tokens"] > 0 and top["gen_ai.usage.output_tokens"] > 0
    assert top["gen_ai.response.finish_reasons"] == ("stop",)
    [attempt] = [span for _, span in spans if span.parent_span_id == root.span_id]
    assert attempt.kind == attempt.SPAN_KIND_CLIENT and attempt.trace_id == root.trace_id
    child = attributes(attempt)
    assert child["gen_ai.provider.name"] == "openai" and child["unigate.attempt.kind"] == "first"
    assert child["gen_ai.request.model"] == "gpt-4o-mini"
    assert "gen_ai.input.messages" not in child and "gen_ai.output.messages" not in child
    everything = b"".join(received.bodies)
    for secret in (CANARY, serve.key, PROMPT_CANARY):
        assert secret.encode() not in everything
    assert serve.key not in serve.output() and CANARY not in serve.output()
