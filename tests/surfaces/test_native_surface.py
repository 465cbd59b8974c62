"""The native surface end to end: gateway and fake OpenAI both on real sockets."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec
import pytest

from proxy.storage import sqlite_path
from tests.conftest import RunningGateway
from tests.fakes.server import FakeVendor, Reply

MODEL = "/models/v2/openai/gpt-4o-mini"
VENDOR_KEY = "sk-test-provider-key-0001"
SEED = {
    "messages": [{"role": "user", "content": "Hello my name is Bob and I like to eat"}],
    "stream": False,
    "params": {"max_tokens": 100},
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in raw.split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if not line.startswith(":"))
        events.append((lines["event"], msgspec.json.decode(lines["data"])))
    return events


def stream(gateway: RunningGateway, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, str], str]:
    with (
        gateway.client(**{"Provider-Key": VENDOR_KEY, **headers}) as client,
        client.stream("POST", MODEL, json={**body, "stream": True}) as response,
    ):
        return response.status_code, dict(response.headers), response.read().decode()


def ledger_rows(gateway: RunningGateway) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    path = sqlite_path(gateway.settings.database_url)
    while True:
        with sqlite3.connect(path) as connection:
            connection.row_factory = sqlite3.Row
            rows = [dict(row) for row in connection.execute("SELECT * FROM usage ORDER BY started_at")]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_seed_request_answers_the_envelope(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(MODEL, json=SEED)
    assert response.status_code == 200
    body = response.json()
    assert body["error"] is None
    assert body["output"] == {
        "role": "assistant",
        "content": "Hello! How can I help you today?",
        "finish_reason": "stop",
        "raw_finish_reason": "stop",
    }
    assert body["usage"] == {
        "input_tokens": 19,
        "output_tokens": 10,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }
    assert body["provider"]["id"] == "chatcmpl-DxQ7r2mVbY4kTn8sLpWc3aHfJ1eZ0"
    billing = body["billing"]
    assert billing["meter"] == "tokens"
    assert billing["cost"] == pytest.approx((19 * 0.15 + 10 * 0.60) / 1e6)
    assert billing["inference_time"] > 0
    assert response.headers["Inference-Cost"] == "0.00000885"
    assert float(response.headers["Inference-Time"]) == pytest.approx(billing["inference_time"], abs=1e-6)
    upstream = fake_openai_vendor.last
    assert upstream.path == "/v1/chat/completions"
    assert upstream.headers["authorization"] == f"Bearer {VENDOR_KEY}"
    sent = upstream.json()
    assert sent == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello my name is Bob and I like to eat"}],
        "max_completion_tokens": 100,
    }


def test_stream_is_the_unified_sse_sequence(gateway: RunningGateway) -> None:
    status, headers, raw = stream(gateway, SEED)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    events = sse_events(raw)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-4:] == ["usage", "finish", "billing", "done"]
    assert set(kinds[1:-4]) == {"text_delta"}
    for kind, data in events:
        assert data["type"] == kind
    start = events[0][1]
    assert start["model"] == "openai/gpt-4o-mini" and start["provider"] == "openai"
    assert events[-3][1]["reason"] == "stop"
    assert events[-4][1]["input_tokens"] == 19


def test_joined_stream_deltas_equal_the_non_stream_text(gateway: RunningGateway) -> None:
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        whole = client.post(MODEL, json=SEED).json()["output"]["content"]
    _, _, raw = stream(gateway, SEED)
    joined = "".join(data["text"] for kind, data in sse_events(raw) if kind == "text_delta")
    assert joined == whole


def test_stream_asks_openai_for_usage(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    stream(gateway, SEED)
    sent = fake_openai_vendor.last.json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("headers", [{"Accept": "text/plain"}, {"lang": "python"}])
def test_text_plain_stream_is_raw_text(gateway: RunningGateway, headers: dict[str, str]) -> None:
    status, response_headers, raw = stream(gateway, SEED, **headers)
    assert status == 200
    assert response_headers["content-type"].startswith("text/plain")
    assert raw == "Hello! How can I help you today?"


def test_lang_header_with_event_stream_accept_stays_sse(gateway: RunningGateway) -> None:
    _, headers, raw = stream(gateway, SEED, lang="javascript", Accept="text/event-stream")
    assert headers["content-type"].startswith("text/event-stream")
    assert raw.startswith("event: start")


def test_tools_and_streamed_tool_arguments(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    body = {
        **SEED,
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        answer = client.post(MODEL, json=body).json()
    sent = fake_openai_vendor.last.json()
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    call = answer["output"]["tool_calls"][0]
    assert call == {
        "id": "call_Xb8YzQw3Kp1LmN0aVr6TtC2d",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert answer["output"]["finish_reason"] == "tool_calls"
    _, _, raw = stream(gateway, body)
    events = sse_events(raw)
    starts = [data for kind, data in events if kind == "tool_call_start"]
    assert starts == [{"type": "tool_call_start", "index": 0, "id": call["id"], "name": "get_weather"}]
    fragments = [data["arguments"] for kind, data in events if kind == "tool_call_delta"]
    assert len(fragments) > 1
    assert "".join(fragments) == call["function"]["arguments"]


def test_tools_in_params_as_the_seed_sends_them(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    body = {**SEED, "params": {"max_tokens": 50, "tools": [WEATHER_TOOL]}}
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        assert client.post(MODEL, json=body).status_code == 200
    assert fake_openai_vendor.last.json()["tools"] == [WEATHER_TOOL]


def test_tool_history_and_sampling_reach_openai_in_its_format(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    ]
    params = {
        "max_new_tokens": 20,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "logit_bias": {"50256": -100},
        "top_k": 5,
    }
    body = {"messages": history, "params": params, "response_format": {"type": "json_object"}}
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        answer = client.post(MODEL, json=body).json()
    sent = fake_openai_vendor.last.json()
    assert sent["messages"] == history
    assert sent["max_completion_tokens"] == 20
    assert (sent["temperature"], sent["top_p"], sent["stop"], sent["seed"]) == (0.2, 0.9, ["END"], 7)
    assert (sent["frequency_penalty"], sent["presence_penalty"]) == (0.1, 0.2)
    assert sent["logit_bias"] == {"50256": -100}
    assert sent["response_format"] == {"type": "json_object"}
    assert "top_k" not in sent
    assert answer["warnings"] == ["top_k is not supported by openai; it was not sent"]
    _, _, raw = stream(gateway, body)
    start = sse_events(raw)[0][1]
    assert start["warnings"] == ["top_k is not supported by openai; it was not sent"]


def test_json_flag_and_json_schema(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        client.post(MODEL, json={**SEED, "json": True})
        assert fake_openai_vendor.last.json()["response_format"] == {"type": "json_object"}
        schema = {
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": True},
        }
        client.post(MODEL, json={**SEED, "response_format": schema})
        assert fake_openai_vendor.last.json()["response_format"] == schema


def test_image_parts_by_url_and_base64(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    content = [
        {"type": "text", "text": "Compare these"},
        {"type": "image", "url": "https://example.com/a.png"},
        {"type": "image", "base64": f"data:image/png;base64,{png}"},
        {"type": "image", "base64": png},
    ]
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        assert (
            client.post(MODEL, json={"messages": [{"role": "user", "content": content}]}).status_code == 200
        )
    parts = fake_openai_vendor.last.json()["messages"][0]["content"]
    assert parts == [
        {"type": "text", "text": "Compare these"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]


def test_video_part_is_a_clear_400_naming_the_vendor(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor
) -> None:
    content = [{"type": "video", "url": "https://example.com/a.mp4"}]
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        response = client.post(MODEL, json={"messages": [{"role": "user", "content": content}]})
    assert response.status_code == 400
    assert response.json() == {
        "error": "openai model 'gpt-4o-mini' cannot take a video part"
        " (the catalogue lists no video capability for it)",
        "code": "unsupported",
        "output": None,
        "usage": None,
        "billing": None,
        "provider": "openai",
        "warnings": [],
        "id": response.headers["x-request-id"],
        "model": "openai/gpt-4o-mini",
    }
    assert fake_openai_vendor.received == []


@pytest.mark.parametrize(
    "authorization", [None, "Key ug-nope-nope", "Bearer wrong", "wrong", "Key", "Bearer"]
)
def test_missing_or_wrong_proxy_key_is_401(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor, authorization: str | None
) -> None:
    headers = {"Provider-Key": VENDOR_KEY}
    if authorization is not None:
        headers["Authorization"] = authorization
    with gateway.client() as client:
        client.headers.pop("Authorization")
        response = client.post(MODEL, json=SEED, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "authentication" and body["output"] is None and body["error"]
    assert fake_openai_vendor.received == []


@pytest.mark.parametrize("scheme", ["Key {}", "Bearer {}", "{}", "key {}"])
def test_every_authorization_form_is_accepted(gateway: RunningGateway, scheme: str) -> None:
    with gateway.client(
        **{"Provider-Key": VENDOR_KEY, "Authorization": scheme.format(gateway.key)}
    ) as client:
        assert client.post(MODEL, json=SEED).status_code == 200


def test_unknown_model_is_404(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        for model in (
            "/models/v2/someone/unknown-model",
            "/models/v2/openai/gpt-oss-20b",
            "/models/v2/openai/",
        ):
            response = client.post(model, json=SEED)
            assert response.status_code == 404, model
            assert response.json()["code"] == "not_found"
    assert fake_openai_vendor.received == []


def test_missing_provider_key_is_401_with_its_own_code(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        response = client.post(MODEL, json=SEED)
    assert response.status_code == 401
    assert response.json()["code"] == "provider_key_required"


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("openai/error-401.json", 401, "authentication"),
        ("openai/error-404.json", 404, "not_found"),
        ("openai/error-429.json", 429, "rate_limited"),
    ],
)
def test_openai_errors_map_to_codes_and_statuses(
    gateway: RunningGateway, fake_openai_vendor: FakeVendor, fixture: str, status: int, code: str
) -> None:
    for streamed in (False, True):
        fake_openai_vendor.clear()
        reply = Reply.fixture(fixture)
        reply.headers["retry-after-ms"] = "1"
        tries = 3 if status == 429 else 1  # a 429 is retried (3 attempts), the others are not
        fake_openai_vendor.enqueue(*[reply] * tries)
        with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
            response = client.post(MODEL, json={**SEED, "stream": streamed})
        assert len(fake_openai_vendor.received) == tries
        assert response.status_code == status
        body = response.json()
        assert body["code"] == code and body["provider"] == "openai" and body["output"] is None
        if status == 429:
            assert response.headers["Retry-After"] == "1"


def test_bad_bodies_are_400_not_500(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    bad = [
        b"",
        b"{",
        b"[]",
        b'{"messages": "hi"}',
        b'{"messages": []}',
        b'{"params": {"max_tokens": "x"}, "text": "a"}',
        b'{"messages": [{"role": "wizard", "content": "x"}]}',
        b'{"stream": true}',
        b'{"messages": [{"role": "user", "content": [{"type": "image"}]}]}',
        b'{"messages": [{"role": "user", "content": [{"type": "image", "url": "file:///etc/passwd"}]}]}',
        b'{"messages": [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{"}}]}]}',
    ]
    with gateway.client(**{"Provider-Key": VENDOR_KEY, "Content-Type": "application/json"}) as client:
        for body in bad:
            response = client.post(MODEL, content=body)
            assert response.status_code == 400, body
            assert response.json()["code"] == "invalid_request", body
    assert fake_openai_vendor.received == []


def test_each_request_leaves_one_ledger_row(gateway: RunningGateway, fake_openai_vendor: FakeVendor) -> None:
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        ids = [client.post(MODEL, json=SEED).headers["X-Request-Id"]]
    ids.append(stream(gateway, SEED)[1]["x-request-id"])
    fake_openai_vendor.enqueue(Reply.fixture("openai/error-404.json"))
    with gateway.client(**{"Provider-Key": VENDOR_KEY}) as client:
        client.post(MODEL, json=SEED)
    deadline = time.monotonic() + 5
    settled = lambda rows: len(rows) >= 3 and all(row["status"] != "started" for row in rows)  # noqa: E731
    while not settled(rows := ledger_rows(gateway)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [row["status"] for row in rows] == ["completed", "completed", "upstream_error"]
    assert [row["request_id"] for row in rows[:2]] == ids
    assert rows[0]["input_tokens"] == 19 and rows[0]["output_tokens"] == 10
    assert rows[0]["cost"] == pytest.approx(8.85e-6)
    assert rows[2]["error_code"] == "not_found"
    assert all(row["key_id"] for row in rows)
