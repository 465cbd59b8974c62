"""A fake Mistral La Plateforme: chat completions, embeddings and models, from tests/fixtures/mistral/.

Like the real service it decides streaming from the body's `stream`, answers SSE with
`text/event-stream` (the SDK refuses anything else), wants `Authorization: Bearer <key>`
and says `{"detail": "Unauthorized"}` without it, and rejects a model it does not know.
"""

from __future__ import annotations

from typing import Any

from adapters.mistral import MistralAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.openai import fake_tokens, fake_vector
from tests.fakes.server import FakeVendor, Received, Reply

MODELS = ("mistral-small-latest", "mistral-large-latest", "magistral-medium-latest")
EMBEDDING_MODELS = ("mistral-embed", "codestral-embed")
SSE = {"Content-Type": "text/event-stream"}


def mistral_responder(request: Received) -> Reply:
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer ") or not authorization[7:].strip():
        return Reply.fixture("mistral/error-401.json")
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json(
            {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": 1795651260,
                        "owned_by": "mistralai",
                        "capabilities": {"completion_chat": True, "function_calling": True},
                        "max_context_length": 131072,
                    }
                    for model in MODELS
                ],
            }
        )
    if request.method == "POST" and request.path == "/v1/embeddings":
        return mistral_embeddings(request.json() or {})
    if request.method != "POST" or request.path != "/v1/chat/completions":
        return Reply.json({"detail": "Not Found"}, status=404)
    body = request.json() or {}
    if body.get("model") not in MODELS:
        return Reply.fixture("mistral/error-400-invalid-model.json")
    tools = bool(body.get("tools"))
    if body.get("stream"):
        return Reply.fixture("mistral/tool-stream.sse" if tools else "mistral/chat-stream.sse")
    return Reply.fixture("mistral/tool.json" if tools else "mistral/chat.json")


def mistral_embeddings(body: dict[str, Any]) -> Reply:
    """`/v1/embeddings`: OpenAI's reply shape; `output_dimension` instead of `dimensions`."""
    if body.get("model") not in EMBEDDING_MODELS:
        return Reply.fixture("mistral/error-400-invalid-model.json")
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    tokens = fake_tokens(texts)
    return Reply.json(
        {
            "id": "5b2c3d4e5f60718293a4b5c6d7e8f901",
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "embedding": fake_vector(text, body.get("output_dimension", 8)),
                    "index": i,
                }
                for i, text in enumerate(texts)
            ],
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
        }
    )


def fake_mistral() -> FakeVendor:
    return FakeVendor(mistral_responder)


def mistral_error(status: int, message: str, error_type: str, code: str | None) -> Reply:
    """Mistral's usual error body: `{"object": "error", "message", "type", "param", "code"}`."""
    return Reply.json(
        {"object": "error", "message": message, "type": error_type, "param": None, "code": code},
        status=status,
    )


ERRORS: dict[Code, Reply] = {
    Code.AUTHENTICATION: Reply.fixture("mistral/error-401.json"),
    Code.NOT_FOUND: Reply.fixture("mistral/error-400-invalid-model.json"),
    Code.RATE_LIMITED: Reply.fixture("mistral/error-429.json"),
    Code.INVALID_REQUEST: Reply.json(
        {
            "detail": [
                {
                    "loc": ["body", "temperature"],
                    "msg": "Input should be less than or equal to 1.5",
                    "type": "less_than_equal",
                }
            ]
        },
        status=422,
    ),
    Code.CONTEXT_LENGTH: mistral_error(
        400,
        "Prompt contains 40960 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
        "invalid_request_invalid_args",
        "3051",
    ),
    Code.OVERLOADED: mistral_error(
        429, "Service tier capacity exceeded for this model.", "service_tier_capacity_exceeded", "3505"
    ),
    Code.SERVER_ERROR: mistral_error(500, "Internal server error", "internal_server_error", None),
    Code.TIMEOUT: Reply.json({"message": "The upstream server is timing out"}, status=504),
    Code.PERMISSION: Reply.json({"message": "Forbidden"}, status=403),
}


def _check_image(body: Any) -> None:
    parts = body["messages"][-1]["content"]
    images = [part["image_url"] for part in parts if part["type"] == "image_url"]
    assert images[0] == {"url": "https://example.com/cat.png"}
    assert images[1]["url"].startswith("data:image/png;base64,iVBOR")


def _check_json(body: Any) -> None:
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "place"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["city"]


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"


KIT = VendorKit(
    name="mistral",
    make_fake=fake_mistral,
    make_adapter=MistralAdapter,
    base_url=lambda url: url,
    model="mistral-small-latest",
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(8, 10),
    errors=ERRORS,
    multi_tool_replies=(
        Reply.fixture("mistral/tools-multi.json", headers={"Content-Type": "application/json"}),
        Reply.fixture("mistral/tools-multi-stream.sse", headers=SSE),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=Reply(
        headers=SSE,
        events=[
            b'data: {"id":"cf79f7daaee244b1a0ae5c7b1444424a","object":"chat.completion.chunk","created":1795651260,'
            b'"model":"mistral-small-latest","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},'
            b'"finish_reason":null}]}\n\n',
            b'data: {"object":"error","message":"Internal server error","type":"internal_server_error",'
            b'"param":null,"code":null}\n\n',
        ],
    ),
)
