"""A fake OpenAI: Chat Completions and models, served from tests/fixtures/openai/."""

from __future__ import annotations

from tests.fakes.server import FakeVendor, Received, Reply


def openai_responder(request: Received) -> Reply:
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return Reply.fixture("openai/error-401.json")
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json({"object": "list", "data": [
            {"id": "gpt-4.1-mini", "object": "model", "created": 1795651200, "owned_by": "system"}
        ]})
    if request.method != "POST" or request.path != "/v1/chat/completions":
        return Reply.fixture("openai/error-404.json")
    body = request.json() or {}
    tools = bool(body.get("tools"))
    if body.get("stream"):
        return Reply.fixture("openai/tool-stream.sse" if tools else "openai/chat-stream.sse")
    return Reply.fixture("openai/tool.json" if tools else "openai/chat.json")


def fake_openai() -> FakeVendor:
    return FakeVendor(openai_responder)
