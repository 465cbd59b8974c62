"""A fake Cohere: v2 Chat, v2 Embed and the model list, served from tests/fixtures/cohere/.

Like the live API it takes `Authorization: Bearer <key>` (401 fixture otherwise), decides
streaming from the body's `"stream"` (the SDK always sends it), and serves streams as
`text/event-stream`, which the SDK insists on.
"""

from __future__ import annotations

from typing import Any

from adapters.cohere import CohereAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.openai import fake_tokens, fake_vector
from tests.fakes.server import FakeVendor, Received, Reply

MODEL = "command-a-03-2025"
SSE = {"Content-Type": "text/event-stream"}


def cohere_responder(request: Received) -> Reply:
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer ") or not authorization.removeprefix("Bearer ").strip():
        return Reply.fixture("cohere/error-401.json")
    if request.method == "GET" and request.path == "/v1/models":
        return Reply.json(
            {
                "models": [{"name": MODEL, "endpoints": ["chat"], "context_length": 256000}],
                "next_page_token": None,
            }
        )
    if request.method == "POST" and request.path == "/v2/embed":
        return cohere_embed(request.json() or {})
    if request.method != "POST" or request.path != "/v2/chat":
        return Reply.fixture("cohere/error-404.json")
    body = request.json() or {}
    tools = bool(body.get("tools"))
    if body.get("stream") is True:
        return Reply.fixture("cohere/tool-stream.sse" if tools else "cohere/chat-stream.sse")
    return Reply.fixture("cohere/tool.json" if tools else "cohere/chat.json")


def cohere_embed(body: dict[str, Any]) -> Reply:
    """`/v2/embed`: v3+ models need `input_type`; vectors come keyed by embedding type."""
    if not body.get("input_type"):
        return cohere_error(400, "invalid request: input_type is required for embed-v4.0 and newer")
    if "float" not in body.get("embedding_types", ["float"]):
        return cohere_error(400, "invalid request: only float embeddings are served by this fake")
    texts = body.get("texts") or []
    return Reply.json(
        {
            "id": "da6e531f-54c6-4a73-bf92-f60566d8d753",
            "embeddings": {"float": [fake_vector(text, body.get("output_dimension", 8)) for text in texts]},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": fake_tokens(texts)}},
            "response_type": "embeddings_by_type",
        }
    )


def fake_cohere() -> FakeVendor:
    return FakeVendor(cohere_responder)


def cohere_error(status: int, message: str) -> Reply:
    """Cohere's documented error body: `{"id", "message"}`."""
    return Reply.json({"id": "0c6f1d2e-7a3b-4f59-8e21-5d4c3b2a1f00", "message": message}, status=status)


def _check_image(body: Any) -> None:
    parts = body["messages"][-1]["content"]
    images = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
    assert images[0] == "https://example.com/cat.png"
    assert images[1].startswith("data:image/png;base64,")


def _check_json(body: Any) -> None:
    assert body["response_format"]["type"] == "json_object"
    assert body["response_format"]["json_schema"]["required"] == ["city"]


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["authorization"] == f"Bearer {key}"


def _event(kind: str, data: bytes) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


MID_STREAM_ERROR = Reply(
    headers=SSE,
    events=[
        _event(
            "message-start",
            b'{"id":"2b7e9c1d-4f3a-4e6b-8d2c-9a1f0e3b5c77","type":"message-start",'
            b'"delta":{"message":{"role":"assistant","content":[],"tool_plan":"",'
            b'"tool_calls":[],"citations":[]}}}',
        ),
        _event(
            "content-start",
            b'{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}',
        ),
        _event(
            "content-delta",
            b'{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hel"}}}}',
        ),
        _event(
            "message-end",
            b'{"type":"message-end","delta":{"error":"internal server error, this has been '
            b'reported to our developers","finish_reason":"ERROR","usage":{"billed_units":'
            b'{"input_tokens":3,"output_tokens":1},"tokens":{"input_tokens":496,"output_tokens":1}}}}',
        ),
    ],
)

KIT = VendorKit(
    name="cohere",
    make_fake=fake_cohere,
    make_adapter=CohereAdapter,
    base_url=lambda url: url,
    model=MODEL,
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(496, 11),
    errors={
        Code.AUTHENTICATION: Reply.fixture("cohere/error-401.json"),
        Code.NOT_FOUND: Reply.fixture("cohere/error-404.json"),
        Code.RATE_LIMITED: Reply.fixture("cohere/error-429.json"),
        Code.INVALID_REQUEST: cohere_error(
            400, "invalid request: message must be at least 1 token long or tool results must be specified."
        ),
        Code.CONTEXT_LENGTH: cohere_error(
            400,
            "too many tokens: size limit exceeded by 11326 tokens. Try using "
            "shorter or fewer inputs, or setting prompt_truncation='AUTO'.",
        ),
        Code.QUOTA_EXCEEDED: cohere_error(
            402,
            "Please add or update your payment method at https://dashboard.cohere.com/billing to continue.",
        ),
        Code.PERMISSION: cohere_error(403, "You do not have access to this model."),
        Code.SERVER_ERROR: cohere_error(
            500, "internal server error, this has been reported to our developers"
        ),
        Code.OVERLOADED: cohere_error(503, "service unavailable, please try again later"),
        Code.TIMEOUT: cohere_error(504, "the request timed out"),
    },
    multi_tool_replies=(
        Reply.fixture("cohere/tools-multi.json", headers={"Content-Type": "application/json"}),
        Reply.fixture("cohere/tools-multi-stream.sse", headers=SSE),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=MID_STREAM_ERROR,
)
