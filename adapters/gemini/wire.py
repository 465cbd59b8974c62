"""Gemini `GenerateContentResponse` and error wire Structs: minimal, tolerant of unknown fields.

Gemini answers in proto-JSON camelCase; `rename="camel"` keeps the Python names snake_case.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct


class WireFunctionCall(Struct, rename="camel"):
    name: str = ""
    args: dict[str, Any] | None = None
    id: str | None = None


class WirePart(Struct, rename="camel"):
    text: str | None = None
    thought: bool = False
    thought_signature: str | None = None
    function_call: WireFunctionCall | None = None


class WireContent(Struct, rename="camel"):
    parts: list[WirePart] = msgspec.field(default_factory=list)
    role: str | None = None


class WireCandidate(Struct, rename="camel"):
    content: WireContent | None = None
    finish_reason: str | None = None
    index: int = 0


class WireUsage(Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int | None = None
    cached_content_token_count: int | None = None
    tool_use_prompt_token_count: int = 0


class WirePromptFeedback(Struct, rename="camel"):
    block_reason: str | None = None
    block_reason_message: str | None = None


class WireErrorDetail(Struct, rename="camel"):
    type: str = msgspec.field(default="", name="@type")
    reason: str | None = None
    retry_delay: str | None = None


class WireError(Struct):
    code: int = 0
    message: str = ""
    status: str = ""
    details: list[WireErrorDetail] = msgspec.field(default_factory=list)


class WireResponse(Struct, rename="camel"):
    """One `GenerateContentResponse`: a whole reply, or one chunk of a stream."""

    candidates: list[WireCandidate] = msgspec.field(default_factory=list)
    usage_metadata: WireUsage | None = None
    prompt_feedback: WirePromptFeedback | None = None
    model_version: str = ""
    response_id: str = ""
    error: WireError | None = None
    """A failure reported inside a 200 (mid-stream)."""


class WireErrorBody(Struct):
    error: WireError | None = None


decode_response = msgspec.json.Decoder(WireResponse).decode
decode_response_list = msgspec.json.Decoder(list[WireResponse]).decode
decode_error_body = msgspec.json.Decoder(WireErrorBody).decode
decode_error_any = msgspec.json.Decoder(WireErrorBody | list[WireErrorBody]).decode
