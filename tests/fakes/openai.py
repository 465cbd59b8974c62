"""A fake OpenAI: Chat Completions, Embeddings and models, served from tests/fixtures/openai/."""

from __future__ import annotations

import base64
import struct
from typing import Any

from adapters.openai import OpenAIAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.server import FakeVendor, Received, Reply


def fake_vector(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic vector, exact in float32: element 0 is the text's length, so order shows."""
    return [float(len(text))] + [((len(text) * (i + 2)) % 17) / 4 for i in range(dimensions - 1)]


def fake_tokens(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


def openai_embeddings(body: dict[str, Any]) -> Reply:
    """OpenAI's `/v1/embeddings`: floats, or base64 float32 when `encoding_format` says so."""
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    vectors = [fake_vector(text, body.get("dimensions", 8)) for text in texts]
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = fake_tokens(texts)
    return Reply.json(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def openai_responder(request: Received) -> Reply:
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return Reply.fixture("openai/error-401.json")
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json(
            {
                "object": "list",
                "data": [
                    {"id": "gpt-4.1-mini", "object": "model", "created": 1795651200, "owned_by": "system"}
                ],
            }
        )
    if request.method == "POST" and request.path == "/v1/embeddings":
        return openai_embeddings(request.json() or {})
    if request.method != "POST" or request.path != "/v1/chat/completions":
        return Reply.fixture("openai/error-404.json")
    body = request.json() or {}
    tools = bool(body.get("tools"))
    if body.get("stream"):
        return Reply.fixture("openai/tool-stream.sse" if tools else "openai/chat-stream.sse")
    return Reply.fixture("openai/tool.json" if tools else "openai/chat.json")


def fake_openai() -> FakeVendor:
    return FakeVendor(openai_responder)


def _check_image(body: Any) -> None:
    parts = body["messages"][-1]["content"]
    images = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
    assert images[0] == "https://example.com/cat.png"
    assert images[1].startswith("data:image/png;base64,")


def _check_json(body: Any) -> None:
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["city"]


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"


KIT = VendorKit(
    name="openai",
    make_fake=fake_openai,
    make_adapter=OpenAIAdapter,
    base_url=lambda url: f"{url}/v1",
    model="gpt-4.1-mini",
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(19, 10),
    errors={
        Code.AUTHENTICATION: Reply.fixture("openai/error-401.json"),
        Code.NOT_FOUND: Reply.fixture("openai/error-404.json"),
        Code.RATE_LIMITED: Reply.fixture("openai/error-429.json"),
        Code.SERVER_ERROR: Reply.json(
            {
                "error": {
                    "message": "The server had an error",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
            status=500,
        ),
        Code.OVERLOADED: Reply.json(
            {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}},
            status=503,
        ),
        Code.CONTEXT_LENGTH: Reply.json(
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            status=400,
        ),
        Code.INVALID_REQUEST: Reply.json(
            {
                "error": {
                    "message": "Invalid value for 'temperature'.",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": None,
                }
            },
            status=400,
        ),
        Code.PERMISSION: Reply.json(
            {
                "error": {
                    "message": "Project does not have access",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "unsupported_country_region_territory",
                }
            },
            status=403,
        ),
    },
    multi_tool_replies=(
        Reply.fixture("openai/tools-multi.json"),
        Reply.fixture("openai/tools-multi-stream.sse"),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=Reply(
        headers={"Content-Type": "text/event-stream; charset=utf-8"},
        events=[
            b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-mini",'
            b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
            b'data: {"error":{"message":"The server had an error while processing your request.",'
            b'"type":"server_error","param":null,"code":null}}\n\n',
        ],
    ),
)
