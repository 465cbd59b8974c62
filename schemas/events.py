"""The one internal stream type: every adapter decodes into it, every surface encodes from it."""

from __future__ import annotations

from msgspec import UNSET, Raw, Struct, UnsetType

from schemas.chat import FinishReason, Usage


class Start(Struct, tag="start", tag_field="type", omit_defaults=True):
    id: str
    model: str
    provider: str
    warnings: list[str] | UnsetType = UNSET
    """Parameters the vendor could not take and that were not sent (as in the envelope)."""


class TextDelta(Struct, tag="text_delta", tag_field="type"):
    index: int
    text: str


class ReasoningDelta(Struct, tag="reasoning_delta", tag_field="type", omit_defaults=True):
    index: int
    text: str
    signature: str | UnsetType = UNSET
    redacted: str | UnsetType = UNSET


class ToolCallStart(Struct, tag="tool_call_start", tag_field="type"):
    index: int
    id: str
    name: str


class ToolCallDelta(Struct, tag="tool_call_delta", tag_field="type"):
    index: int
    arguments: str


class UsageEvent(Struct, tag="usage", tag_field="type", omit_defaults=True):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int | UnsetType = UNSET
    reasoning_tokens: int | UnsetType = UNSET
    cache_write_input_tokens: int | UnsetType = UNSET


def usage_event(usage: Usage) -> UsageEvent:
    """The stream event carrying a call's usage: the same counts."""
    return UsageEvent(
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.reasoning_tokens,
        usage.cache_write_input_tokens,
    )


def usage_of(event: UsageEvent) -> Usage:
    return Usage(
        event.input_tokens,
        event.output_tokens,
        event.cached_input_tokens,
        event.reasoning_tokens,
        event.cache_write_input_tokens,
    )


class Finish(Struct, tag="finish", tag_field="type"):
    reason: FinishReason
    raw_reason: str | None


class Billing(Struct, tag="billing", tag_field="type"):
    meter: str
    meter_price: float | None
    inference_time: float
    cost: float | None


class ErrorEvent(Struct, tag="error", tag_field="type", omit_defaults=True):
    code: str
    message: str
    retryable: bool
    provider: str | UnsetType = UNSET


class VendorFrame(Struct, tag="vendor_frame", tag_field="type"):
    """One event of a vendor's stream, whole (its SSE `data`), beside the unified events read
    from it: OpenAI's Responses events for the Responses surface, which alone writes them
    (adapters/openai/responses.py). Every other encoder skips it."""

    data: Raw


class Done(Struct, tag="done", tag_field="type"):
    pass


class Ping(Struct, tag="ping", tag_field="type"):
    """Dispatch's keep-alive for an idle stream; SSE encoders write it as a `: ping` comment."""


StreamEvent = (
    Start
    | TextDelta
    | ReasoningDelta
    | ToolCallStart
    | ToolCallDelta
    | UsageEvent
    | Finish
    | Billing
    | ErrorEvent
    | Done
    | Ping
    | VendorFrame
)
"""What adapters yield is the subset without `Billing`, `Done` and `Ping`: dispatch adds those."""
