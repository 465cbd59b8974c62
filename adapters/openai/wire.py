"""OpenAI Chat Completions wire Structs: minimal, tolerant of fields we do not read."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct


class WireFunction(Struct):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class WireToolCall(Struct):
    index: int = 0
    id: str | None = None
    function: WireFunction | None = None


class WireMessage(Struct):
    content: str | list[Any] | None = None
    tool_calls: list[WireToolCall] | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class WireChoice(Struct):
    index: int = 0
    message: WireMessage | None = None
    delta: WireMessage | None = None
    finish_reason: str | None = None


class WirePromptDetails(Struct):
    cached_tokens: int | None = None


class WireCompletionDetails(Struct):
    reasoning_tokens: int | None = None


class WireUsage(Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: WirePromptDetails | None = None
    completion_tokens_details: WireCompletionDetails | None = None


class WireError(Struct):
    message: str = ""
    type: str | None = None
    code: str | int | None = None
    param: str | None = None


class WireCompletion(Struct):
    """A `chat.completion` or a `chat.completion.chunk`: the same fields serve both."""

    id: str = ""
    model: str = ""
    choices: list[WireChoice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None
    error: WireError | None = None
    object: str | None = None
    message: str | None = None
    """Some OpenAI-compatible servers put an error at the top level (`object: "error"`)."""
    finish_reason: str | None = None
    """Some OpenAI-compatible servers put the finish reason at the top level of a chunk."""


class WireErrorBody(Struct):
    error: WireError | str | None = None
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    object: str | None = None


decode_completion = msgspec.json.Decoder(WireCompletion).decode
decode_error_body = msgspec.json.Decoder(WireErrorBody).decode
