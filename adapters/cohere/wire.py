"""Cohere v2 Chat wire Structs: minimal, tolerant of fields and events we do not read.

One flat `WireEvent` serves every stream event, so an event type Cohere adds later
(`debug`, `citation-start`, ...) decodes and is skipped instead of failing the stream.
Token counts are declared `float` because the API schema calls them numbers.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct


class WireFunction(Struct):
    name: str | None = None
    arguments: str | None = None


class WireToolCall(Struct):
    id: str | None = None
    function: WireFunction | None = None


class WireContent(Struct):
    type: str | None = None
    text: str | None = None
    thinking: str | None = None


class WireMessage(Struct):
    """A reply's `message`, or a stream event's `delta.message`: in a stream, `content` and
    `tool_calls` are single objects; in a reply and in `message-start` they are lists."""

    content: list[WireContent] | WireContent | str | None = None
    tool_plan: str | None = None
    tool_calls: list[WireToolCall] | WireToolCall | None = None


class WireTokens(Struct):
    input_tokens: float | None = None
    output_tokens: float | None = None


class WireUsage(Struct):
    billed_units: WireTokens | None = None
    tokens: WireTokens | None = None
    cached_tokens: float | None = None


class WireResponse(Struct):
    id: str = ""
    finish_reason: str | None = None
    message: WireMessage | None = None
    usage: WireUsage | None = None


class WireDelta(Struct):
    message: WireMessage | None = None
    finish_reason: str | None = None
    usage: WireUsage | None = None
    error: str | None = None


class WireEvent(Struct):
    type: str | None = None
    id: str | None = None
    index: int | None = None
    delta: WireDelta | None = None
    message: str | None = None
    """Set when an error body (`{"message": ...}`) arrives in place of an event."""


class WireError(Struct):
    message: str | None = None
    id: str | None = None


decode_response = msgspec.json.Decoder(WireResponse).decode
decode_event = msgspec.json.Decoder(WireEvent).decode
decode_error = msgspec.json.Decoder(WireError).decode
