"""The bytes on the wire, beyond what the SDKs check, and the routes' precedence over the native
`POST /models/v2/{model_id:path}`."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from tests.conftest import RunningGateway
from tests.fakes.server import Reply
from tests.surfaces.conftest import KITS, MODELS, VENDOR_KEY, ledger_rows

HELLO = [{"role": "user", "content": "Hello my name is Bob and I like to eat"}]


def post(
    gateway: RunningGateway, path: str, body: dict[str, Any], **headers: str
) -> tuple[int, dict[str, str], bytes]:
    with gateway.client(
        **{"Authorization": f"Bearer {gateway.key}", "Provider-Key": VENDOR_KEY, **headers}
    ) as client:
        response = client.post(path, json=body)
    return response.status_code, dict(response.headers), response.content


def test_completion_is_wire_exact(running: RunningGateway) -> None:
    status, _, raw = post(running, "/v1/chat/completions", {"model": MODELS["openai"], "messages": HELLO})
    assert status == 200
    body = msgspec.json.decode(raw)
    assert list(body) == ["id", "created", "model", "choices", "usage", "object", "system_fingerprint"]
    assert body["object"] == "chat.completion"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"content": KITS["openai"].text, "role": "assistant", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
        "cost": body["usage"]["cost"],
    }


def test_stream_frames_are_data_lines_ending_in_done(running: RunningGateway) -> None:
    body = {
        "model": MODELS["cohere"],
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    status, headers, raw = post(running, "/v1/chat/completions", body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in raw.decode().split("\n\n") if frame]
    assert all(frame.startswith("data: ") and "\n" not in frame for frame in frames)
    assert frames[-1] == "data: [DONE]"
    chunks = [msgspec.json.decode(frame[6:]) for frame in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert all("usage" in chunk for chunk in chunks)
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == KITS["cohere"].usage[0]


def test_mid_stream_error_frame_then_done(running: RunningGateway, fakes: Any) -> None:
    mid_stream = KITS["mistral"].mid_stream_error
    assert mid_stream is not None
    fakes["mistral"].enqueue(mid_stream)
    _, _, raw = post(
        running, "/v1/chat/completions", {"model": MODELS["mistral"], "messages": HELLO, "stream": True}
    )
    frames = [frame for frame in raw.decode().split("\n\n") if frame]
    assert frames[-1] == "data: [DONE]"
    error = msgspec.json.decode(frames[-2][6:])
    assert set(error) == {"error"}
    assert error["error"]["type"] == "api_error" and error["error"]["param"] is None


def test_reasoning_streams_as_reasoning_content(running: RunningGateway) -> None:
    body = {
        "model": MODELS["anthropic"],
        "messages": HELLO,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    _, _, raw = post(running, "/v1/chat/completions", body)
    chunks = [msgspec.json.decode(f[6:]) for f in raw.decode().split("\n\n") if f and f != "data: [DONE]"]
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"])
    assert reasoning == "The user wants 27 * 453. 27 * 453 = 12231."


def test_anthropic_stream_is_named_events(running: RunningGateway) -> None:
    body = {"model": MODELS["gemini"], "max_tokens": 64, "messages": HELLO, "stream": True}
    status, headers, raw = post(running, "/v1/messages", body)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    names = []
    for frame in (f for f in raw.decode().split("\n\n") if f):
        event_line, data_line = frame.split("\n")
        name = event_line.removeprefix("event: ")
        assert msgspec.json.decode(data_line.removeprefix("data: "))["type"] == name
        names.append(name)
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "[DONE]" not in raw.decode()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_native_route_still_serves_models_named_under_the_mounts(
    running: RunningGateway, vendor: str
) -> None:
    status, _, raw = post(running, f"/models/v2/{MODELS[vendor]}", {"messages": HELLO})
    assert status == 200
    envelope = msgspec.json.decode(raw)
    assert envelope["error"] is None and envelope["output"]["content"] == KITS[vendor].text


def test_openai_mount_wins_over_the_native_path_route(running: RunningGateway) -> None:
    status, _, raw = post(
        running, "/models/v2/openai/v1/chat/completions", {"model": MODELS["openai"], "messages": HELLO}
    )
    assert status == 200
    assert msgspec.json.decode(raw)["object"] == "chat.completion"
    status, _, raw = post(
        running, "/models/v2/openai/v1/embeddings", {"model": "openai/text-embedding-3-small", "input": "x"}
    )
    assert status == 200
    assert msgspec.json.decode(raw)["object"] == "list"
    with running.client(Authorization=f"Bearer {running.key}") as client:
        listed = client.get("/models/v2/openai/v1/models").json()
        native = client.get("/models/v2/list/models").json()
    assert listed["object"] == "list"
    assert native["error"] is None


def test_errors_on_v1_are_openai_shaped(running: RunningGateway) -> None:
    status, _, raw = post(running, "/v1/chat/completions", {"model": "nobody/nothing", "messages": HELLO})
    assert status == 404
    assert msgspec.json.decode(raw) == {
        "error": {
            "message": "no route for model 'nobody/nothing'",
            "type": "not_found_error",
            "code": "not_found",
            "param": None,
        }
    }
    status, _, raw = post(
        running, "/v1/messages", {"model": "nobody/nothing", "max_tokens": 1, "messages": HELLO}
    )
    assert status == 404
    assert msgspec.json.decode(raw) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no route for model 'nobody/nothing'"},
    }
    status, _, raw = post(running, "/v1/chat/completions", {"model": MODELS["openai"]})
    assert status == 400
    assert "messages" in msgspec.json.decode(raw)["error"]["message"]


def test_a_client_leaving_an_openai_stream_cancels_the_vendor_call(
    running: RunningGateway, fakes: Any
) -> None:
    fakes["openai"].enqueue(Reply.fixture("openai/chat-stream.sse", event_delay=0.5))
    body = {"model": MODELS["openai"], "messages": HELLO, "stream": True}
    with (
        running.client(Authorization=f"Bearer {running.key}", **{"Provider-Key": VENDOR_KEY}) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        request_id = response.headers["x-request-id"]
        first = next(response.iter_raw())
    assert first.startswith(b"data: ")
    deadline = time.monotonic() + 5
    while fakes["openai"].disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fakes["openai"].disconnects == 1
    [row] = ledger_rows(running, request_id)
    assert row["status"] == "client_disconnected"
