"""U4, U5, U10, U11, U12: what a vendor's error means for retries, fallback and the stream."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.errors import Code
from tests.fakes.anthropic import KIT as ANTHROPIC
from tests.fakes.openai import KIT as OPENAI
from tests.fakes.server import FakeVendor, Reply, fixture_bytes, sse_frames
from tests.reliability.conftest import GatewayFactory
from tests.reliability.harness import (
    ANTHROPIC_KEY,
    ANTHROPIC_MODEL,
    ANTHROPIC_ONLY,
    CHAT,
    CHAT_ROUTE,
    OPENAI_KEY,
    SSE,
    SSEResult,
    anthropic_frame,
    capture_logs,
    config,
    ledger,
    openai_frames,
    openai_stream,
    post,
    stream,
    words_text,
)

CONTEXT_ROUTES = (
    CHAT_ROUTE
    + f"""
[[routes]]
match = "team/long"
provider = "openai"
model = "gpt-4o-mini"
fallbacks = [{{ provider = "anthropic", model = "{ANTHROPIC_MODEL}" }}]
context_fallback = {{ provider = "openai", model = "gpt-4.1" }}

[[routes]]
match = "team/claude"
provider = "anthropic"
model = "{ANTHROPIC_MODEL}"
fallbacks = [{{ provider = "openai", model = "gpt-4o-mini" }}]
"""
)


def openai_error(status: int, kind: str, message: str, code: str | None = None) -> Reply:
    return Reply.json(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}, status=status
    )


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (OPENAI.errors[Code.INVALID_REQUEST], 400, "invalid_request"),
        (OPENAI.errors[Code.AUTHENTICATION], 401, "authentication"),
        (OPENAI.errors[Code.PERMISSION], 403, "permission"),
        (OPENAI.errors[Code.NOT_FOUND], 404, "not_found"),
        (openai_error(422, "invalid_request_error", "Unprocessable"), 400, "invalid_request"),
    ],
    ids=["400", "401", "403", "404", "422"],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_u4_client_errors_are_not_retried_not_fallen_back_and_trip_nothing(
    make_gateway: GatewayFactory,
    openai_fake: FakeVendor,
    anthropic_fake: FakeVendor,
    reply: Reply,
    status: int,
    code: str,
    streamed: bool,
) -> None:
    gateway = make_gateway(config(consecutive_failures=1))
    openai_fake.responder = lambda _: reply
    if streamed:
        result = stream(gateway)
        answered, body = result.status, result.body
    else:
        response = post(gateway)
        answered, body = response.status_code, response.content
    assert answered == status
    assert f'"code":"{code}"'.encode() in body
    assert b'"provider":"openai"' in body
    assert len(openai_fake.received) == 1
    assert anthropic_fake.received == []
    breakers = gateway.gateway.dispatcher.breakers
    assert not breakers.is_open(("openai", "gpt-4o-mini"))  # one vendor fault would have opened it
    [row] = ledger(gateway)
    assert (row["status"], row["error_code"], row["attempts"]) == ("upstream_error", code, 1)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_u5_context_length_goes_once_to_the_configured_larger_model(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor, streamed: bool
) -> None:
    gateway = make_gateway(config(extra=CONTEXT_ROUTES))
    openai_fake.enqueue(OPENAI.errors[Code.CONTEXT_LENGTH])
    if streamed:
        openai_fake.enqueue(openai_stream(3))
        result = stream(gateway, "/models/v2/team/long")
        assert result.status == 200 and result.text == words_text(3)
    else:
        assert post(gateway, "/models/v2/team/long").status_code == 200
    assert [request.json()["model"] for request in openai_fake.received] == ["gpt-4o-mini", "gpt-4.1"]
    assert anthropic_fake.received == []
    [row] = ledger(gateway)
    assert (row["status"], row["attempts"]) == ("completed", 2)


@pytest.mark.timeout(20)
def test_u5_context_length_from_the_larger_model_too_is_a_400(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(extra=CONTEXT_ROUTES))
    openai_fake.responder = lambda _: OPENAI.errors[Code.CONTEXT_LENGTH]
    response = post(gateway, "/models/v2/team/long")
    assert response.status_code == 400
    assert response.json()["code"] == "context_length"
    assert len(openai_fake.received) == 2
    assert anthropic_fake.received == []


@pytest.mark.timeout(20)
def test_u5_context_length_without_a_configured_model_is_a_400(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.responder = lambda _: OPENAI.errors[Code.CONTEXT_LENGTH]
    response = post(gateway, CHAT)
    assert response.status_code == 400
    assert response.json()["code"] == "context_length"
    assert len(openai_fake.received) == 1
    assert anthropic_fake.received == []


def anthropic_overloaded_before_output() -> Reply:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [],
    }
    message["usage"] = {"input_tokens": 10, "output_tokens": 1}
    return Reply(
        headers=dict(SSE),
        events=[
            anthropic_frame("message_start", {"message": message}),
            anthropic_frame(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            ),
            anthropic_frame("ping", {}),
            anthropic_frame("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ],
    )


@pytest.mark.timeout(20)
def test_u10_anthropic_overloaded_before_any_delta_is_retried_then_falls_back(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(extra=CONTEXT_ROUTES))
    anthropic_fake.responder = lambda _: anthropic_overloaded_before_output()
    openai_fake.enqueue(openai_stream(4))
    result = stream(gateway, "/models/v2/team/claude", headers={"Provider-Key-OpenAI": OPENAI_KEY})
    assert result.status == 200
    assert result.kinds[-1] == "done" and "error" not in result.kinds
    assert result.first("start")["provider"] == "openai"
    assert result.text == words_text(4)
    assert len(anthropic_fake.received) == 3
    [row] = ledger(gateway)
    assert (row["status"], row["provider"], row["attempts"]) == ("completed", "openai", 4)


@pytest.mark.timeout(20)
def test_u10_anthropic_overloaded_once_before_any_delta_is_retried(
    make_gateway: GatewayFactory, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    anthropic_fake.enqueue(anthropic_overloaded_before_output())
    result = stream(gateway, ANTHROPIC_ONLY)
    assert result.text == ANTHROPIC.text
    assert result.kinds[-1] == "done" and "error" not in result.kinds
    assert len(anthropic_fake.received) == 2


@pytest.mark.timeout(20)
def test_u10_anthropic_overloaded_after_text_deltas_is_an_error_event(
    make_gateway: GatewayFactory, openai_fake: FakeVendor, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config(extra=CONTEXT_ROUTES))
    anthropic_fake.responder = lambda _: Reply.fixture("anthropic/error-stream.sse")
    result = stream(gateway, "/models/v2/team/claude")
    assert result.status == 200
    assert result.kinds == ["start", "text_delta", "error", "billing", "done"]
    assert result.text == "Hello"
    error = result.first("error")
    assert (error["code"], error["retryable"], error["provider"]) == ("overloaded", True, "anthropic")
    assert len(anthropic_fake.received) == 1  # output reached the client: no retry, no replay
    assert openai_fake.received == []
    [row] = ledger(gateway)
    assert (row["status"], row["error_code"]) == ("upstream_error", "overloaded")


def comparable(result: SSEResult) -> list[tuple[str, dict[str, Any]]]:
    """The events without what differs per request (ids, timings)."""
    return [(kind, data) for kind, data in result.events if kind not in ("start", "billing")]


@pytest.mark.timeout(20)
def test_u11_unknown_events_and_pings_are_ignored_anthropic(
    make_gateway: GatewayFactory, anthropic_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    clean = stream(gateway, ANTHROPIC_ONLY)
    noisy: list[bytes] = []
    for frame in sse_frames(fixture_bytes("anthropic/chat-stream.sse")):
        noisy += [
            frame,
            anthropic_frame("ping", {}),
            anthropic_frame("content_block_hologram", {"index": 0, "shape": "cube"}),
            b"event: telemetry\ndata: not json at all\n\n",
            b": a comment line\n\n",
        ]
    anthropic_fake.enqueue(Reply(headers=dict(SSE), events=noisy))
    result = stream(gateway, ANTHROPIC_ONLY)
    assert comparable(result) == comparable(clean)
    assert result.text == ANTHROPIC.text


@pytest.mark.timeout(20)
def test_u11_comments_and_unknown_fields_are_ignored_openai(
    make_gateway: GatewayFactory, openai_fake: FakeVendor
) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(openai_stream(6))
    clean = stream(gateway)
    noisy: list[bytes] = []
    for frame in openai_frames(6):
        noisy += [
            b": OPENROUTER PROCESSING\n\n",
            frame.replace(b'"created"', b'"novel_field":[1,2],"created"'),
        ]
    openai_fake.enqueue(Reply(headers=dict(SSE), events=noisy))
    result = stream(gateway)
    assert comparable(result) == comparable(clean)
    assert result.text == words_text(6)


@pytest.mark.timeout(20)
def test_u12_malformed_json_mid_stream_ends_with_an_error_event(
    make_gateway: GatewayFactory,
    openai_fake: FakeVendor,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    gateway = make_gateway(config())
    capture_logs(caplog)
    frames = openai_frames(8)
    # a broken line that also echoes the caller's key: whatever reports it must not repeat it
    frames.insert(
        4, b'data: {"id":"chatcmpl-r","key":"' + OPENAI_KEY.encode() + b'","choices":[{"delta":\n\n'
    )
    openai_fake.enqueue(Reply(headers=dict(SSE), events=frames))
    result = stream(gateway)
    assert result.status == 200
    assert result.kinds == ["start", "text_delta", "text_delta", "text_delta", "error", "billing", "done"]
    assert result.first("error")["code"] == "server_error"
    assert len(openai_fake.received) == 1
    [row] = ledger(gateway)
    assert row["status"] == "upstream_error"
    logged = capfd.readouterr()
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, gateway.key):
        assert secret not in caplog.text and secret not in logged.err and secret not in logged.out
        assert secret not in str(row) and secret not in str(result.events)
    openai_fake.enqueue(openai_stream(2))
    assert stream(gateway).text == words_text(2)  # the gateway is still serving


@pytest.mark.timeout(20)
def test_u12_malformed_first_line_is_retried(make_gateway: GatewayFactory, openai_fake: FakeVendor) -> None:
    gateway = make_gateway(config())
    openai_fake.enqueue(Reply(headers=dict(SSE), events=[b"data: {not json\n\n", *openai_frames(2)]))
    openai_fake.enqueue(openai_stream(2))
    result = stream(gateway)
    assert result.text == words_text(2)
    assert len(openai_fake.received) == 2
