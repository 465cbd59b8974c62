"""The Anthropic-compatible surface's wire: Messages requests, replies, stream events and errors,
as the official `anthropic` SDK sends and reads them (Claude Code among its users).

Request Structs are tolerant: fields they do not name are kept aside by the decoder for an
Anthropic target (newer clients send fields we do not know yet); a known field of the wrong
shape, or an unknown block type, is a 400 naming it. Reply Structs are wire-exact.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType

# -- requests ----------------------------------------------------------------------------


class ImageSource(Struct, omit_defaults=True):
    type: str
    media_type: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    url: str | UnsetType = UNSET


class TextBlockIn(Struct, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | UnsetType = UNSET


class ImageBlockIn(Struct, tag="image", tag_field="type"):
    source: ImageSource
    cache_control: dict[str, Any] | UnsetType = UNSET


class ToolUseBlockIn(Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: Any = None


class DocumentSource(Struct, omit_defaults=True):
    """`base64` (a PDF), `url` (a PDF), `text` (plain text in `data`), `content` (blocks)."""

    type: Literal["base64", "url", "text", "content", "file"]
    media_type: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    content: str | list[TextBlockIn | ImageBlockIn] | UnsetType = UNSET
    file_id: str | UnsetType = UNSET


class DocumentBlockIn(Struct, tag="document", tag_field="type", omit_defaults=True):
    source: DocumentSource
    title: str | UnsetType | None = UNSET
    context: str | UnsetType | None = UNSET
    cache_control: dict[str, Any] | UnsetType = UNSET


class ToolResultBlockIn(Struct, tag="tool_result", tag_field="type", omit_defaults=True):
    tool_use_id: str
    content: str | list[TextBlockIn | ImageBlockIn | DocumentBlockIn] = ""
    is_error: bool | UnsetType = UNSET
    cache_control: dict[str, Any] | UnsetType = UNSET


class ThinkingBlockIn(Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str = ""


class RedactedThinkingBlockIn(Struct, tag="redacted_thinking", tag_field="type"):
    data: str


BlockIn = (
    TextBlockIn
    | ImageBlockIn
    | DocumentBlockIn
    | ToolUseBlockIn
    | ToolResultBlockIn
    | ThinkingBlockIn
    | RedactedThinkingBlockIn
)


class MessageIn(Struct):
    role: Literal["user", "assistant", "system"]
    """`system`: a system turn among the others, as Claude Code sends (text blocks only)."""
    content: str | list[BlockIn]


class ToolIn(Struct, omit_defaults=True):
    name: str
    input_schema: dict[str, Any] | UnsetType = UNSET
    description: str | UnsetType = UNSET
    strict: bool | UnsetType = UNSET
    type: str | UnsetType = UNSET
    """`custom` or absent for a function tool; Anthropic's server tools name their version here."""
    cache_control: dict[str, Any] | UnsetType = UNSET


class ToolChoiceIn(Struct, omit_defaults=True):
    type: Literal["auto", "any", "none", "tool"]
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class OutputFormat(Struct):
    type: Literal["json_schema"]
    schema: dict[str, Any]


Effort = Literal["low", "medium", "high", "xhigh", "max"]


class OutputConfig(Struct, omit_defaults=True):
    format: OutputFormat | UnsetType = UNSET
    effort: Effort | UnsetType = UNSET


ThinkingDisplay = Literal["summarized", "omitted"]


class ThinkingEnabled(Struct, tag="enabled", tag_field="type", omit_defaults=True):
    budget_tokens: int
    display: ThinkingDisplay | UnsetType = UNSET


class ThinkingAdaptive(Struct, tag="adaptive", tag_field="type", omit_defaults=True):
    """The model decides whether and how much to think (with `output_config.effort`)."""

    display: ThinkingDisplay | UnsetType = UNSET


class ThinkingDisabled(Struct, tag="disabled", tag_field="type"):
    pass


Thinking = ThinkingEnabled | ThinkingAdaptive | ThinkingDisabled


class ContextEdit(Struct):
    """One of `context_management.edits` (`clear_tool_uses_20250919`, `clear_thinking_20251015`,
    ...); its other fields are Anthropic's to check and travel as the caller wrote them."""

    type: str


class ContextManagement(Struct):
    edits: list[ContextEdit]


class MessagesBody(Struct, omit_defaults=True):
    """`POST /v1/messages`."""

    model: str
    max_tokens: int
    messages: list[MessageIn]
    system: str | list[TextBlockIn] | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    stream: bool = False
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    tools: list[ToolIn] | UnsetType = UNSET
    tool_choice: ToolChoiceIn | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    thinking: Thinking | UnsetType = UNSET
    context_management: ContextManagement | UnsetType = UNSET
    """Checked here, then sent to Anthropic as the caller wrote it."""
    metadata: dict[str, Any] | UnsetType = UNSET


# -- replies -----------------------------------------------------------------------------


class MessagesUsage(Struct):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int | UnsetType = UNSET
    cache_creation_input_tokens: int | UnsetType = UNSET
    cost: float | UnsetType | None = UNSET
    """Ours: what the call cost in USD (null when no price is configured); the SDK ignores it."""


class TextBlock(Struct, tag="text", tag_field="type"):
    text: str


class ThinkingBlock(Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str


class RedactedThinkingBlock(Struct, tag="redacted_thinking", tag_field="type"):
    data: str


class ToolUseBlock(Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: Any


Block = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock


class Message(Struct):
    id: str
    model: str
    content: list[Block]
    stop_reason: str | None
    usage: MessagesUsage
    stop_sequence: None = None
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"


class MessageStart(Struct, tag="message_start", tag_field="type"):
    message: Message
    unigate_warnings: list[str] | UnsetType = UNSET
    """What the gateway could not send, when anything (also in the `Unigate-Warnings` header)."""


class ContentBlockStart(Struct, tag="content_block_start", tag_field="type"):
    index: int
    content_block: Block


class MessagesTextDelta(Struct, tag="text_delta", tag_field="type"):
    text: str


class InputJsonDelta(Struct, tag="input_json_delta", tag_field="type"):
    partial_json: str


class ThinkingDelta(Struct, tag="thinking_delta", tag_field="type"):
    thinking: str


class SignatureDelta(Struct, tag="signature_delta", tag_field="type"):
    signature: str


BlockDelta = MessagesTextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta


class ContentBlockDelta(Struct, tag="content_block_delta", tag_field="type"):
    index: int
    delta: BlockDelta


class ContentBlockStop(Struct, tag="content_block_stop", tag_field="type"):
    index: int


class StopDelta(Struct):
    stop_reason: str | None
    stop_sequence: None = None


class MessageDelta(Struct, tag="message_delta", tag_field="type"):
    delta: StopDelta
    usage: MessagesUsage


class MessageStop(Struct, tag="message_stop", tag_field="type"):
    pass


class MessagesPing(Struct, tag="ping", tag_field="type"):
    pass


class MessagesErrorBody(Struct):
    type: str
    message: str


class MessagesErrorAnswer(Struct, tag="error", tag_field="type"):
    """Both the error reply's body and the stream's `error` event."""

    error: MessagesErrorBody


class ModelInfo(Struct):
    id: str
    display_name: str
    created_at: str = "1970-01-01T00:00:00Z"
    type: Literal["model"] = "model"


class ModelPage(Struct):
    data: list[ModelInfo]
    has_more: bool
    first_id: str | None
    last_id: str | None
