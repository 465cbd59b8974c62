"""Anthropic Messages wire Structs: flat, minimal, tolerant of fields and block types we do not read.

One flat `WireBlock` (and one `WireDelta`) with a string `type` serves every content block
(and every delta), so a block type Anthropic adds later decodes instead of failing.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct


class WireBlock(Struct):
    """A content block: text, tool_use, thinking, redacted_thinking, or one we skip."""

    type: str = ""
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


class WireOutputDetails(Struct):
    thinking_tokens: int | None = None


class WireUsage(Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: WireOutputDetails | None = None


class WireErrorDetails(Struct):
    error_code: str | None = None


class WireError(Struct):
    type: str | None = None
    message: str = ""
    details: WireErrorDetails | None = None


class WireMessage(Struct):
    """A `message` reply, or the `message` inside a stream's `message_start`."""

    id: str = ""
    model: str = ""
    type: str = "message"
    content: list[WireBlock] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    usage: WireUsage | None = None
    error: WireError | None = None
    """Set when a 200 carries `{"type": "error", ...}` instead of a message."""


class WireDelta(Struct):
    """A `content_block_delta` delta or a `message_delta` delta: one Struct reads both."""

    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None


class WireEvent(Struct):
    """Any stream event's data; `type` says which of the optional fields are set."""

    type: str = ""
    message: WireMessage | None = None
    index: int = 0
    content_block: WireBlock | None = None
    delta: WireDelta | None = None
    usage: WireUsage | None = None
    error: WireError | None = None


class WireErrorBody(Struct):
    type: str | None = None
    error: WireError | None = None
    request_id: str | None = None


decode_message = msgspec.json.Decoder(WireMessage).decode
decode_event = msgspec.json.Decoder(WireEvent).decode
decode_error_body = msgspec.json.Decoder(WireErrorBody).decode
