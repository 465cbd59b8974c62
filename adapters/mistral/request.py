"""ChatRequest → a Mistral chat-completions body.

Mistral speaks OpenAI's protocol with a few differences, so the body is OpenAI's builder run
with Mistral's `Dialect` (`max_tokens`, `random_seed`, `top_k`, no `stream_options`), then
the handful of rules only Mistral has, each a named function below:

- tool-call ids must be exactly 9 letters or digits: a foreign id in the history (from an
  earlier OpenAI or Anthropic turn, after a fallback) is mapped to a stable 9-character id,
  the same on the assistant's call and on its tool result;
- reasoning from earlier turns goes back as `thinking` chunks ahead of the assistant's text;
- `tool_choice: "required"` is spelled `"any"` (the spelling every Mistral API version takes);
- `input_audio` is the bare base64 payload, not OpenAI's `{data, format}`;
- a user message takes no `name` (Mistral rejects unknown fields with 422), a tool result does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from msgspec import UNSET

from adapters.mistral.errors import classify_mistral_error
from adapters.openai.request import Dialect, to_openai_body
from adapters.thinking_chunks import chunk_events, reply_reasoning
from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    DocumentPart,
    Message,
    ReasoningPart,
    ToolMessage,
    UserMessage,
)
from schemas.errors import Code, GatewayError

PROVIDER = "mistral"


def to_mistral_document(part: DocumentPart, provider: str) -> dict[str, Any]:
    """A PDF as Mistral's `document_url` chunk: a URL, or a data URL for inline bytes."""
    url = part.url if part.url is not UNSET else part.base64
    if url is UNSET:
        raise GatewayError(Code.UNSUPPORTED, f"{provider} cannot take a document part", provider=provider)
    return {"type": "document_url", "document_url": url}


MISTRAL = Dialect(
    provider=PROVIDER,
    max_tokens_field="max_tokens",
    supports_top_k=True,
    seed_field="random_seed",
    stream_usage_option=False,
    audio=True,
    whole_tool_calls=True,
    classify_error=classify_mistral_error,
    document=to_mistral_document,
    content_chunks=chunk_events,
    reply_reasoning=reply_reasoning,
)

_TOOL_CALL_ID = re.compile(r"[A-Za-z0-9]{9}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def to_mistral_tool_call_id(tool_call_id: str) -> str:
    """A Mistral id passes unchanged; any other maps to 9 base-62 digits of its SHA-256,
    so a call and its result still pair up and the same history always sends the same ids."""
    if _TOOL_CALL_ID.fullmatch(tool_call_id):
        return tool_call_id
    number = int.from_bytes(hashlib.sha256(tool_call_id.encode()).digest()[:8], "big")
    digits = []
    for _ in range(9):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


def to_mistral_thinking_chunks(reasoning: list[ReasoningPart], warnings: list[str]) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for part in reasoning:
        if part.redacted is not UNSET and not part.text:
            warnings.append(f"redacted reasoning is not supported by {PROVIDER}; it was not sent")
            continue
        chunk: dict[str, Any] = {"type": "thinking", "thinking": [{"type": "text", "text": part.text}]}
        if part.signature is not UNSET:
            chunk["signature"] = part.signature
        chunks.append(chunk)
    return chunks


def _with_thinking(content: Any, thinking: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [*thinking, *content]
    if content:
        return [*thinking, {"type": "text", "text": content}]
    return thinking


def _bare_audio(content: Any) -> None:
    if isinstance(content, list):
        for part in content:
            if part.get("type") == "input_audio":
                part["input_audio"] = part["input_audio"]["data"]


def to_mistral_message(message: Message, out: dict[str, Any], warnings: list[str]) -> None:
    """Adjusts, in place, the OpenAI-shaped message `out` built from `message`."""
    _bare_audio(out.get("content"))
    if isinstance(message, UserMessage) and "name" in out:
        del out["name"]
        warnings.append(f"a user message name is not supported by {PROVIDER}; it was not sent")
    elif isinstance(message, ToolMessage):
        out["tool_call_id"] = to_mistral_tool_call_id(message.tool_call_id)
        if message.name is not UNSET:
            out["name"] = message.name
    elif isinstance(message, AssistantMessage):
        for call in out.get("tool_calls", ()):
            call["id"] = to_mistral_tool_call_id(call["id"])
        if message.reasoning is not UNSET and message.reasoning:
            thinking = to_mistral_thinking_chunks(message.reasoning, warnings)
            if thinking:
                out["content"] = _with_thinking(out["content"], thinking)


def to_mistral_body(request: ChatRequest, model: str, warnings: list[str]) -> dict[str, Any]:
    body = to_openai_body(request, model, MISTRAL, warnings)
    for message, out in zip(request.messages, body["messages"], strict=True):
        to_mistral_message(message, out, warnings)
    if request.tool_choice == "required":
        body["tool_choice"] = "any"
    return body
