"""The Responses API's wire (`POST /v1/responses`, its stream events, stored items), as the
official `openai` SDK, the Agents SDK and Codex send and read it.

Request Structs are tolerant: unknown fields are ignored, and an input item's or tool's
`type` is checked against the known set by the decoder before conversion, so an unknown one
gets a 400 that names it. Response Structs are wire-exact; optional fields the SDK reads as
`null` are `None`, and only `usage.cost` (USD) is ours.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType, field

# -- input content parts ---------------------------------------------------------------


class InputText(Struct, tag="input_text", tag_field="type"):
    text: str


class InputImage(Struct, tag="input_image", tag_field="type", omit_defaults=True):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class InputFile(Struct, tag="input_file", tag_field="type", omit_defaults=True):
    file_data: str | None = None
    """A data URL (`data:application/pdf;base64,...`)."""
    file_url: str | None = None
    file_id: str | None = None
    filename: str | None = None


class OutputText(Struct, tag="output_text", tag_field="type"):
    text: str
    annotations: list[Any] = field(default_factory=list)
    logprobs: list[Any] = field(default_factory=list)


class Refusal(Struct, tag="refusal", tag_field="type"):
    refusal: str


InputContent = InputText | InputImage | InputFile | OutputText | Refusal


class SummaryText(Struct, tag="summary_text", tag_field="type"):
    text: str


class ReasoningText(Struct, tag="reasoning_text", tag_field="type"):
    text: str


# -- items (input and output share them) --------------------------------------------------


class MessageItem(Struct, tag="message", tag_field="type", omit_defaults=True):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContent]
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET


class FunctionCallItem(Struct, tag="function_call", tag_field="type", omit_defaults=True):
    call_id: str
    name: str
    arguments: str = ""
    id: str | UnsetType = UNSET
    namespace: str | None = None
    status: str | UnsetType = UNSET


class FunctionCallOutputItem(Struct, tag="function_call_output", tag_field="type", omit_defaults=True):
    call_id: str
    output: str | list[InputContent]
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET


class CustomToolCallItem(Struct, tag="custom_tool_call", tag_field="type", omit_defaults=True):
    call_id: str
    name: str
    input: str = ""
    id: str | UnsetType = UNSET
    namespace: str | None = None
    status: str | UnsetType = UNSET


class CustomToolCallOutputItem(Struct, tag="custom_tool_call_output", tag_field="type", omit_defaults=True):
    call_id: str
    output: str | list[InputContent]
    id: str | UnsetType = UNSET


class ReasoningItem(Struct, tag="reasoning", tag_field="type", omit_defaults=True):
    summary: list[SummaryText] = field(default_factory=list)
    id: str | UnsetType = UNSET
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: str | UnsetType = UNSET


class ItemReference(Struct, tag="item_reference", tag_field="type"):
    id: str


InputItem = (
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | CustomToolCallItem
    | CustomToolCallOutputItem
    | ReasoningItem
    | ItemReference
)
INPUT_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
        "item_reference",
    }
)
BUILT_IN_CALL_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "computer_call",
        "computer_call_output",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "mcp_call",
        "mcp_list_tools",
        "tool_search_call",
        "tool_search_output",
    }
)
"""Items a built-in tool left in a conversation: only OpenAI can read them back; for any other
vendor they are left out with a warning (the model's own text about them stays)."""

# -- tools -----------------------------------------------------------------------------------


class FunctionTool(Struct, tag="function", tag_field="type", omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class CustomTool(Struct, tag="custom", tag_field="type", omit_defaults=True):
    """A free-form tool (its input is plain text, not JSON), as Codex's `apply_patch`."""

    name: str
    description: str | None = None
    format: dict[str, Any] | None = None


class NamespaceTool(Struct, tag="namespace", tag_field="type", omit_defaults=True):
    name: str
    tools: list[FunctionTool | CustomTool]
    description: str | None = None


ToolIn = FunctionTool | CustomTool | NamespaceTool
BUILT_IN_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "computer",
        "computer_use",
        "computer_use_preview",
        "image_generation",
        "local_shell",
        "shell",
        "mcp",
        "apply_patch",
        "tool_search",
    }
)
"""OpenAI-hosted tools: no other backend has them; offered, they are dropped with a warning."""

# -- the request ------------------------------------------------------------------------------


class TextFormatConfig(Struct, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    """No default: `omit_defaults` would drop it from the echo, and OpenAI always says it."""
    name: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextConfig(Struct, omit_defaults=True):
    format: TextFormatConfig | None = None
    verbosity: str | None = None


class ReasoningConfig(Struct, omit_defaults=True):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


class ReasoningEcho(Struct):
    """`reasoning` as a response object echoes it: both keys always there, null when unset,
    as OpenAI answers."""

    effort: str | None = None
    summary: str | None = None


class ResponsesBody(Struct, omit_defaults=True):
    """`POST /v1/responses`; `input` and `tools` stay raw here, the decoder checks their types."""

    model: str
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    include: list[str] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] | None = None
    prompt_cache_key: str | None = None
    user: str | None = None
    store: bool | None = None
    stream: bool | None = None
    previous_response_id: str | None = None
    truncation: str | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    client_metadata: dict[str, Any] | None = None


# -- the response ------------------------------------------------------------------------------


class OutputMessage(Struct, tag="message", tag_field="type"):
    id: str
    content: list[OutputText | Refusal]
    role: str = "assistant"
    status: str = "completed"


class OutputFunctionCall(Struct, tag="function_call", tag_field="type", omit_defaults=True):
    id: str
    call_id: str
    name: str
    arguments: str
    status: str = "completed"
    namespace: str | UnsetType = UNSET


class OutputCustomToolCall(Struct, tag="custom_tool_call", tag_field="type", omit_defaults=True):
    id: str
    call_id: str
    name: str
    input: str
    status: str = "completed"
    namespace: str | UnsetType = UNSET


class OutputReasoning(Struct, tag="reasoning", tag_field="type", omit_defaults=True):
    id: str
    summary: list[SummaryText]
    encrypted_content: str | UnsetType = UNSET
    content: list[ReasoningText] | UnsetType = UNSET


OutputItem = OutputMessage | OutputFunctionCall | OutputCustomToolCall | OutputReasoning


class InputTokensDetails(Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(Struct):
    reasoning_tokens: int = 0


class ResponseUsage(Struct):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int
    cost: float | None = None


class ResponseError(Struct):
    code: str
    message: str


class IncompleteDetails(Struct):
    reason: str


class ResponseObject(Struct):
    id: str
    created_at: int
    model: str
    status: str
    output: list[OutputItem]
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    previous_response_id: str | None = None
    reasoning: ReasoningEcho | None = None
    store: bool = True
    temperature: float | None = None
    top_p: float | None = None
    text: TextConfig | None = None
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    prompt_cache_key: str | None = None
    completed_at: int | None = None
    object: Literal["response"] = "response"


class DeletedResponse(Struct):
    id: str
    deleted: bool = True
    object: Literal["response.deleted"] = "response.deleted"


class InputItemList(Struct):
    data: list[Any]
    first_id: str | None
    last_id: str | None
    has_more: bool
    object: Literal["list"] = "list"


# -- legacy completions ------------------------------------------------------------------------


class CompletionsBody(Struct, omit_defaults=True):
    """`POST /v1/completions`, the legacy text-completion call."""

    model: str
    prompt: str | list[str] = ""
    suffix: str | None = None
    echo: bool | None = None
    logprobs: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    n: int | None = None
    best_of: int | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class TextChoice(Struct):
    text: str
    index: int
    logprobs: Any
    finish_reason: str | None


class TextCompletion(Struct):
    id: str
    created: int
    model: str
    choices: list[TextChoice]
    usage: Any = None
    system_fingerprint: str | None = None
    object: Literal["text_completion"] = "text_completion"
