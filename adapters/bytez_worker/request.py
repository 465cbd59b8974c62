"""ChatRequest / RunRequest → the body of a Bytez model container's `POST /run`. Pure.

The container reads its input from `text` whatever the task, chat included (a list of
messages there), and takes Hugging Face generation parameters in `params`. Chat asks for the
container's OpenAI mode (`params.compliance_format`), whose stream is `chat.completion`
frames; a container without that mode streams raw text, which the decoder also reads.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from adapters.vendor_extra import own_vendor_extra
from schemas.chat import (
    ChatRequest,
    DocumentPart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Sampling,
    cache_control_unsent,
)
from schemas.errors import Code, GatewayError
from schemas.tasks import RunRequest

OPENAI_CHAT_MODE = "openai://chat/completions"
_TASK_FIELDS = ("text", "url", "base64", "question", "context", "candidate_labels")


def to_bytez_params(sampling: Sampling, provider: str, warnings: list[str]) -> dict[str, Any]:
    """Unified sampling → Hugging Face `generate` names; what HF cannot take is reported."""
    params: dict[str, Any] = {}
    if sampling.max_tokens is not UNSET:
        params["max_new_tokens"] = sampling.max_tokens
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(sampling, name)
        if value is not UNSET:
            params[name] = value
    for name in ("stop", "seed", "frequency_penalty", "presence_penalty"):
        if getattr(sampling, name) is not UNSET:
            warnings.append(f"{name} is not supported by {provider}; it was not sent")
    return params


def to_bytez_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The unified messages are already the Bytez shape (content parts `{type, text|url|base64}`);
    reasoning blocks from earlier turns mean nothing to a Hugging Face chat template."""
    for unified in request.messages:
        content = unified.content
        if isinstance(content, list) and any(isinstance(part, DocumentPart) for part in content):
            raise GatewayError(
                Code.UNSUPPORTED, "a Bytez model container cannot take a document part", provider="bytez"
            )
    messages: list[dict[str, Any]] = msgspec.to_builtins(request.messages)
    for message in messages:
        message.pop("reasoning", None)
        message.pop("cache_control", None)
        message.pop("inline", None)
        message.pop("vendor_extra", None)
        message.pop("is_error", None)
        for part in message["content"] if isinstance(message.get("content"), list) else ():
            part.pop("cache_control", None)
    return messages


def to_bytez_chat_body(request: ChatRequest, provider: str, warnings: list[str]) -> dict[str, Any]:
    if request.tools is not UNSET and request.tools:
        raise GatewayError(
            Code.UNSUPPORTED, f"{provider} (a Bytez model container) cannot take tools", provider=provider
        )
    if isinstance(request.response_format, JsonObjectFormat | JsonSchemaFormat):
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{provider} (a Bytez model container) cannot take a JSON response format",
            provider=provider,
        )
    cache_control_unsent(request, provider, warnings)
    own_vendor_extra(request, provider, warnings)
    if request.reasoning is not UNSET:
        warnings.append(f"reasoning settings are not supported by {provider}; they were not sent")
    params = {**request.extra, **to_bytez_params(request.sampling, provider, warnings)}
    params["compliance_format"] = OPENAI_CHAT_MODE
    return {"text": to_bytez_messages(request), "stream": True, "params": params}


def to_bytez_task_body(request: RunRequest, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in _TASK_FIELDS:
        value = getattr(request, name)
        if value is not UNSET:
            body[name] = value
    if request.input is not UNSET:
        body["input"] = request.input
    if request.params:
        body["params"] = request.params
    body["stream"] = stream
    return body
