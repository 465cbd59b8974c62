"""Issue 13: /metrics after scripted traffic (exact counter deltas, read with prometheus-
client's own parser), spans from the SDK's in-memory exporter, JSON access lines, and the
secrets canary in none of them."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.observability.logs import ACCESS, JsonFormatter, configure_logging
from schemas.config import LoggingConfig
from schemas.errors import Code
from tests.conftest import RunningGateway
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, Reply
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    CHAT,
    KEYS,
    OPENAI_ONLY,
    SSE,
    client,
    config,
    ledger,
    openai_frames,
    openai_stream,
    post,
    stream,
    wait_for,
)

SERVER_ERROR = OPENAI.errors[Code.SERVER_ERROR]
CANARY = "canary-obs-5d2c7e9a1b3f4a6c8e0d"
Labels = dict[str, str]


def scrape(gateway: RunningGateway, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{gateway.url}/metrics", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    assert CANARY not in response.text
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def total(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, pairs), value in values.items()
        if sample == name and all(dict(pairs).get(k) == v for k, v in labels.items())
    )


def delta(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.mark.timeout(30)
def test_counters_after_scripted_traffic(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(attempts=2))
    before = scrape(gateway)

    assert post(gateway, OPENAI_ONLY).status_code == 200  # success
    openai_fake.enqueue(SERVER_ERROR)
    assert post(gateway, OPENAI_ONLY).status_code == 200  # a 5xx, then the retry succeeds
    openai_fake.enqueue(SERVER_ERROR, SERVER_ERROR)
    assert post(gateway, CHAT).status_code == 200  # both tries fail: the fallback answers
    openai_fake.enqueue(Reply(status=200, headers=SSE, events=openai_frames(20)[:3]))
    cut = stream(gateway, OPENAI_ONLY)  # the vendor ends the stream without finishing
    assert "error" in cut.kinds and cut.kinds[-1] == "done"
    openai_fake.enqueue(openai_stream(50, event_delay=0.05))
    stream(gateway, OPENAI_ONLY, stop=lambda result: len(result.events) >= 2)  # the client leaves
    _, limited_key = gateway.gateway.keys.create("limited", rpm=1)
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Key {limited_key}", **KEYS}) as http:
        assert (
            http.post(OPENAI_ONLY, json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 200
        )
        assert (
            http.post(OPENAI_ONLY, json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 429
        )
    assert (
        httpx.post(
            f"{gateway.url}{OPENAI_ONLY}", json={}, headers={"Authorization": f"Key {CANARY}"}
        ).status_code
        == 401
    )
    ledger(gateway, count=7)

    requests = "unigate_requests_total"
    # a request is counted just after its last byte was sent
    wait_for(lambda: delta(before, scrape(gateway), requests, surface="native") >= 8)
    after = scrape(gateway)
    assert delta(before, after, requests, surface="native") == 8
    assert delta(before, after, requests, model="solo/openai", provider="openai", status="200", code="") == 3
    assert delta(before, after, requests, model="team/chat", provider="anthropic", status="200", code="") == 1
    assert delta(before, after, requests, model="solo/openai", status="200", code="connection") == 1
    assert delta(before, after, requests, status="429", code="rate_limited") == 1
    assert delta(before, after, requests, model="", status="401", code="authentication") == 1
    assert delta(before, after, "unigate_retries_total", provider="openai") == 2
    assert delta(before, after, "unigate_fallbacks_total", provider="anthropic") == 1
    assert delta(before, after, "unigate_limiter_refusals_total", kind="rpm") == 1
    assert delta(before, after, "unigate_unauthenticated_requests_total", surface="native") == 1
    assert delta(before, after, "unigate_client_disconnects_total", surface="native") == 1
    assert delta(before, after, "gen_ai_server_time_to_first_token_seconds_count") == 2
    assert delta(before, after, "gen_ai_client_token_usage_count", gen_ai_token_type="input") >= 4
    assert delta(before, after, "unigate_cost_usd_total", model="solo/openai") > 0
    assert total(after, "unigate_streams_in_flight") == 0


def test_metrics_token(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(config() + '\n[metrics]\ntoken = "scrape-secret-123456"\n')
    assert httpx.get(f"{gateway.url}/metrics").status_code == 401
    assert httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(gateway, Authorization="Bearer scrape-secret-123456")


def test_spans_have_genai_attributes_and_attempt_children(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    gateway = make_gateway(config(attempts=2) + "\n[tracing]\nenabled = true\n")
    exporter = InMemorySpanExporter()
    observatory = gateway_app(gateway).state.observatory
    observatory.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    openai_fake.enqueue(SERVER_ERROR)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with client(gateway) as http:
        response = http.post(
            OPENAI_ONLY,
            json={"messages": [{"role": "user", "content": f"secret {CANARY}"}]},
            headers={"traceparent": parent, "Provider-Key": CANARY},
        )
    assert response.status_code == 200
    # the request's span ends just after its last byte was sent
    wait_for(lambda: any(span.kind.name == "SERVER" for span in exporter.get_finished_spans()))
    spans = exporter.get_finished_spans()
    [root] = [span for span in spans if span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331]
    attempts = [
        span for span in spans if span.parent is not None and span.parent.span_id == root.context.span_id
    ]
    assert root.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert root.attributes["gen_ai.operation.name"] == "chat"
    assert root.attributes["gen_ai.provider.name"] == "openai"
    assert root.attributes["gen_ai.request.model"] == "solo/openai"
    assert root.attributes["gen_ai.usage.input_tokens"] > 0
    assert root.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert [span.attributes["unigate.attempt.kind"] for span in attempts] == ["first", "retry"]
    assert attempts[0].attributes["error.type"] == "server_error"
    for span in spans:
        assert CANARY not in json.dumps(dict(span.attributes or {}), default=str)
        assert "gen_ai.input.messages" not in (span.attributes or {})


def gateway_app(gateway: RunningGateway):  # type: ignore[no-untyped-def]
    """The Litestar app serving `gateway` (remembered by the fixture below)."""
    return _apps[gateway.url]


_apps: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _remember_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.conftest as root

    original = root.create_app

    def remembering(settings, gateway):  # type: ignore[no-untyped-def]
        app = original(settings, gateway)
        _apps[f"pending-{id(gateway)}"] = app
        return app

    monkeypatch.setattr(root, "create_app", remembering)
    original_start = root.start_gateway

    def start(*args, **kwargs):  # type: ignore[no-untyped-def]
        server, running = original_start(*args, **kwargs)
        _apps[running.url] = _apps.pop(f"pending-{id(running.gateway)}")
        return server, running

    monkeypatch.setattr(root, "start_gateway", start)
    import tests.reliability.conftest as reliability

    monkeypatch.setattr(reliability, "start_gateway", start)


def test_json_access_line_carries_the_fields(make_gateway: GatewayFactory) -> None:
    stream_ = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging(LoggingConfig(format="json"), stream_)
    try:
        gateway = make_gateway(config())
        with client(gateway) as http:
            http.post(
                OPENAI_ONLY,
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers={"Provider-Key": CANARY},
            )
        ledger(gateway)
        wait_for(lambda: "unigate.access" in stream_.getvalue())
    finally:
        configure_logging(LoggingConfig(format="text", level=logging.getLevelName(level)), sys.stderr)
    lines = [json.loads(line) for line in stream_.getvalue().splitlines()]
    [access] = [line for line in lines if line["logger"] == "unigate.access"]
    assert access["status"] == 200 and access["surface"] == "native" and access["provider"] == "openai"
    assert access["model"] == "solo/openai" and access["attempts"] == 1 and access["input_tokens"] > 0
    assert access["request_id"] and access["key_id"] and access["client"] == "127.0.0.1"
    assert access["duration"] >= access["overhead"] >= 0
    assert CANARY not in stream_.getvalue()


def test_json_formatter_redacts_every_field() -> None:
    record = ACCESS.makeRecord("unigate.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"path": f"/models/v2/x?key={CANARY}", "model": "sk-abcdefghijklmnop1234"}
    line = json.loads(JsonFormatter().format(record))
    assert CANARY not in json.dumps(line) and "sk-abcdefghijklmnop1234" not in json.dumps(line)


def test_tracing_off_imports_no_opentelemetry_sdk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys\n"
        "from proxy.settings import load_settings\n"
        "from proxy.app import create_app\n"
        f"create_app(load_settings(environ={{'UNIGATE_DATABASE_URL': 'sqlite:///{tmp_path}/u.db'}}))\n"
        "bad = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter'))]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)}
    )
