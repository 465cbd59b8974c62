"""A fake Gemini Developer API, served from tests/fixtures/gemini/.

Like the real one it routes `/v1/` and `/v1beta/`, takes the model with or without
`models/`, decides streaming from the path (`:streamGenerateContent`, SSE with `alt=sse`,
else the legacy JSON array), reads the key from `x-goog-api-key` or `?key=`, answers a
missing key with its 400 API_KEY_INVALID, and rejects unknown top-level request fields the
way its proto-JSON parser does, in either of the casings it accepts.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs

from adapters.gemini import GeminiAdapter
from schemas.errors import Code
from tests.fakes.kit import VendorKit
from tests.fakes.openai import fake_vector
from tests.fakes.server import FakeVendor, Received, Reply, fixture_bytes

_CALL = re.compile(r"^/(v1|v1beta|v1alpha)/(?:models/)?([^/:]+):(generateContent|streamGenerateContent)$")
_LIST = re.compile(r"^/(v1|v1beta|v1alpha)/models$")
_EMBED = re.compile(r"^/(v1|v1beta|v1alpha)/(?:models/)?([^/:]+):batchEmbedContents$")
_FIELDS = frozenset(
    {
        "model",
        "contents",
        "tools",
        "toolConfig",
        "safetySettings",
        "systemInstruction",
        "generationConfig",
        "cachedContent",
        "serviceTier",
        "store",
    }
)
JSON = {"Content-Type": "application/json; charset=UTF-8"}
SSE = {"Content-Type": "text/event-stream"}


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def google_error(status: int, name: str, message: str, *details: dict[str, Any]) -> Reply:
    error: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details:
        error["details"] = list(details)
    return Reply.json({"error": error}, status=status, headers=dict(JSON))


def _unknown_field(name: str) -> Reply:
    message = f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
    return google_error(
        400,
        "INVALID_ARGUMENT",
        message,
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"description": message}],
        },
    )


def gemini_responder(request: Received) -> Reply:
    key = request.headers.get("x-goog-api-key") or parse_qs(request.query).get("key", [""])[0]
    if not key:
        return Reply.fixture("gemini/error-400-api-key.json")
    if request.method == "GET" and _LIST.match(request.path):
        return Reply.json(
            {
                "models": [
                    {
                        "name": "models/gemini-2.5-flash",
                        "displayName": "Gemini 2.5 Flash",
                        "inputTokenLimit": 1048576,
                        "supportedGenerationMethods": ["generateContent", "countTokens"],
                    }
                ]
            },
            headers=dict(JSON),
        )
    embed = _EMBED.match(request.path)
    if request.method == "POST" and embed is not None:
        return batch_embed(embed.group(2), request.json() or {})
    match = _CALL.match(request.path)
    if request.method != "POST" or match is None or match.group(2) == "gemini-does-not-exist":
        return Reply.fixture("gemini/error-404.json")
    body = request.json() or {}
    for name in body:
        if _snake_to_camel(name) not in _FIELDS:
            return _unknown_field(name)
    if not body.get("contents"):
        return google_error(
            400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"
        )
    tools = bool(body.get("tools"))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    modalities = config.get("responseModalities") or config.get("response_modalities") or []
    if match.group(3) == "generateContent" and "IMAGE" in modalities:
        return gemini_image(match.group(2), body)
    if match.group(3) == "generateContent":
        return Reply.fixture("gemini/tool.json" if tools else "gemini/chat.json")
    if "alt=sse" in request.query:
        return Reply.fixture("gemini/tool-stream.sse" if tools else "gemini/chat-stream.sse")
    return Reply.fixture("gemini/legacy-stream.json")


IMAGE_TOKENS = 1290
"""What Gemini reports for one generated image (`candidatesTokenCount`)."""


def gemini_image(model: str, body: dict[str, Any]) -> Reply:
    """Image output: one `inlineData` part (the PNG fixture), image tokens in usage; a
    prompt with "forbidden" in it is blocked (`promptFeedback.blockReason`, no candidates)."""
    prompt = " ".join(part.get("text", "") for part in body["contents"][-1]["parts"])
    usage = {"promptTokenCount": len(prompt.split()), "totalTokenCount": len(prompt.split())}
    if "forbidden" in prompt:
        return Reply.json({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage})
    image = base64.b64encode(fixture_bytes("bytez/image.png")).decode()
    return Reply.json(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": image}}],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                **usage,
                "candidatesTokenCount": IMAGE_TOKENS,
                "totalTokenCount": usage["promptTokenCount"] + IMAGE_TOKENS,
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": IMAGE_TOKENS}],
            },
            "modelVersion": model,
            "responseId": "fake-image-response",
        },
        headers=dict(JSON),
    )


def batch_embed(model: str, body: dict[str, Any]) -> Reply:
    """`:batchEmbedContents`: every entry must name the model of the path, as the API checks."""
    entries = body.get("requests") or []
    vectors = []
    for index, entry in enumerate(entries):
        if entry.get("model") != f"models/{model}":
            return google_error(
                400,
                "INVALID_ARGUMENT",
                f"* BatchEmbedContentsRequest.requests[{index}].model: The model in the request must "
                f"match the model in the URL (models/{model}).",
            )
        text = entry["content"]["parts"][0]["text"]
        vectors.append({"values": fake_vector(text, entry.get("outputDimensionality", 8))})
    return Reply.json({"embeddings": vectors}, headers=dict(JSON))


def fake_gemini() -> FakeVendor:
    return FakeVendor(gemini_responder)


def _check_image(body: Any) -> None:
    parts = body["contents"][-1]["parts"]
    assert parts[0] == {"text": "What is in these?"}
    assert parts[1] == {"fileData": {"fileUri": "https://example.com/cat.png", "mimeType": "image/png"}}
    assert parts[2]["inlineData"]["mimeType"] == "image/png"
    assert parts[2]["inlineData"]["data"].startswith("iVBORw0KGgo")


def _check_json(body: Any) -> None:
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["required"] == ["city"]


def _check_key(headers: dict[str, str], key: str) -> None:
    assert headers["x-goog-api-key"] == key
    assert "authorization" not in headers


ERRORS: dict[Code, Reply] = {
    Code.AUTHENTICATION: Reply.fixture("gemini/error-400-api-key.json"),
    Code.NOT_FOUND: Reply.fixture("gemini/error-404.json"),
    Code.RATE_LIMITED: Reply.fixture("gemini/error-429.json"),
    Code.OVERLOADED: Reply.fixture("gemini/error-503.json"),
    Code.INVALID_REQUEST: google_error(
        400,
        "INVALID_ARGUMENT",
        "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": "generation_config.temperature", "description": 'Invalid value (TYPE_FLOAT), "hot"'}
            ],
        },
    ),
    Code.CONTEXT_LENGTH: google_error(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1203456) exceeds the maximum number of tokens allowed (1048576).",
    ),
    Code.PERMISSION: google_error(
        403,
        "PERMISSION_DENIED",
        "Generative Language API has not been used in project 123456789 before or it is disabled.",
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "SERVICE_DISABLED",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
    ),
    Code.SERVER_ERROR: google_error(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    Code.TIMEOUT: google_error(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    Code.CONTENT_FILTER: Reply.json(
        {
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "zLAaaZbQBeWMz7IPk9_w4Ac",
        },
        headers=dict(JSON),
    ),
}
"""Gemini has no separate quota kind: an exhausted quota is the same 429 RESOURCE_EXHAUSTED.
A refused prompt is a 200 with `promptFeedback.blockReason`, raised as content_filter."""

KIT = VendorKit(
    name="gemini",
    make_fake=fake_gemini,
    make_adapter=GeminiAdapter,
    base_url=lambda url: url,
    model="gemini-2.5-flash",
    text="Hello! How can I help you today?",
    tool_name="get_weather",
    tool_arguments={"city": "Paris"},
    usage=(5, 30),
    errors=ERRORS,
    multi_tool_replies=(
        Reply.fixture("gemini/tools-multi.json", headers=dict(JSON)),
        Reply.fixture("gemini/tools-multi-stream.sse", headers=dict(SSE)),
    ),
    image_check=_check_image,
    json_check=_check_json,
    key_check=_check_key,
    mid_stream_error=Reply(
        headers=dict(SSE),
        events=[
            b'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],'
            b'"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash",'
            b'"responseId":"mK0aaZ2XKuWMz7IPk8_w4Ac"}\r\n\r\n',
            b'data: {"error":{"code":500,"message":"An internal error has occurred. Please retry or report in '
            b'https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}}\r\n\r\n',
        ],
    ),
)
