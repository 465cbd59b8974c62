"""A fake Anthropic: Messages and models, served from tests/fixtures/anthropic/.

It checks what the real API checks first, the way the real API answers: a key (Bearer, as
SDK 2.x sends it, or `x-api-key`) → the 401 fixture; an `anthropic-version` header, and
under 2026-10-21 no `temperature` / `top_p` / `top_k`, a `max_tokens` → a 400
`invalid_request_error`. Streaming is decided by `stream: true` in the body.
"""

from __future__ import annotations

from typing import Any

from adapters.anthropic import AnthropicAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.server import FakeVendor, Received, Reply

API_VERSION = "2026-10-21"
MODEL = "claude-sonnet-4-5-20250929"
SSE = {"Content-Type": "text/event-stream; charset=utf-8"}
_REJECTED_UNDER_NEW_VERSION = ("temperature", "top_p", "top_k")


def anthropic_error(status: int, kind: str, message: str, **headers: str) -> Reply:
    """A reply in Anthropic's documented error shape."""
    body = {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_011CVzFake0000000000000",
    }
    reply = Reply.json(body, status=status)
    reply.headers.update({"request-id": "req_011CVzFake0000000000000", **headers})
    return reply


def _invalid_body(body: Any) -> Reply | None:
    if not isinstance(body, dict):
        return anthropic_error(400, "invalid_request_error", "request body must be a JSON object")
    for field in ("model", "messages", "max_tokens"):
        if field not in body:
            return anthropic_error(400, "invalid_request_error", f"{field}: Field required")
    for field in _REJECTED_UNDER_NEW_VERSION:
        if field in body:
            return anthropic_error(400, "invalid_request_error", f"{field}: Extra inputs are not permitted")
    return None


def anthropic_responder(request: Received) -> Reply:
    headers = request.headers
    if not (headers.get("x-api-key") or headers.get("authorization", "").startswith("Bearer ")):
        return Reply.fixture("anthropic/error-401.json")
    if not headers.get("anthropic-version"):
        return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json(
            {
                "data": [
                    {
                        "type": "model",
                        "id": MODEL,
                        "display_name": "Claude Sonnet 4.5",
                        "created_at": "2025-09-29T00:00:00Z",
                    }
                ],
                "has_more": False,
                "first_id": MODEL,
                "last_id": MODEL,
            }
        )
    if request.method != "POST" or request.path != "/v1/messages":
        return anthropic_error(404, "not_found_error", f"{request.method} {request.path} not found")
    body = request.json()
    invalid = _invalid_body(body)
    if invalid is not None:
        return invalid
    if body["model"] == "claude-does-not-exist":
        return Reply.fixture("anthropic/error-404.json")
    tools = bool(body.get("tools"))
    if body.get("stream"):
        if body.get("thinking", {}).get("type") in ("enabled", "adaptive"):
            return Reply.fixture("anthropic/thinking-stream.sse")
        return Reply.fixture("anthropic/tool-stream.sse" if tools else "anthropic/chat-stream.sse")
    return Reply.fixture("anthropic/tool.json" if tools else "anthropic/chat.json")


def fake_anthropic() -> FakeVendor:
    return FakeVendor(anthropic_responder)


def _check_image(body: Any) -> None:
    blocks = body["messages"][-1]["content"]
    sources = [block["source"] for block in blocks if block["type"] == "image"]
    assert sources[0] == {"type": "url", "url": "https://example.com/cat.png"}
    assert sources[1]["type"] == "base64"
    assert sources[1]["media_type"] == "image/png"
    assert sources[1]["data"].startswith("iVBORw0KGgo")


def _check_json(body: Any) -> None:
    output_format = body["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert output_format["schema"]["required"] == ["city"]
    assert "response_format" not in body


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"
    assert "x-api-key" not in headers
    assert headers["anthropic-version"] == API_VERSION


KIT = VendorKit(
    name="anthropic",
    make_fake=fake_anthropic,
    make_adapter=AnthropicAdapter,
    base_url=lambda url: url,
    model=MODEL,
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(10, 12),
    errors={
        Code.AUTHENTICATION: Reply.fixture("anthropic/error-401.json"),
        Code.NOT_FOUND: Reply.fixture("anthropic/error-404.json"),
        Code.RATE_LIMITED: Reply.fixture("anthropic/error-429.json"),
        Code.OVERLOADED: Reply.fixture("anthropic/error-529.json"),
        Code.INVALID_REQUEST: anthropic_error(400, "invalid_request_error", "messages: Field required"),
        Code.CONTEXT_LENGTH: anthropic_error(
            400, "invalid_request_error", "prompt is too long: 208367 tokens > 200000 maximum"
        ),
        Code.QUOTA_EXCEEDED: anthropic_error(
            402, "billing_error", "Your credit balance is too low to access the Anthropic API."
        ),
        Code.PERMISSION: anthropic_error(
            403, "permission_error", "Your API key does not have permission to use the specified resource."
        ),
        Code.SERVER_ERROR: anthropic_error(500, "api_error", "Internal server error"),
        Code.TIMEOUT: anthropic_error(504, "timeout_error", "Request timed out"),
    },
    multi_tool_replies=(
        Reply.fixture("anthropic/tools-multi.json", headers={"Content-Type": "application/json"}),
        Reply.fixture("anthropic/tools-multi-stream.sse", headers=dict(SSE)),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=Reply.fixture("anthropic/error-stream.sse"),
)
