"""The OpenAI-compatible surface's wire: Chat Completions, Embeddings and Models, as the official
`openai` SDK sends and reads them.

Request Structs are tolerant (unknown fields are kept aside by the decoder, not rejected);
response Structs are wire-exact, with one addition the SDKs ignore: `usage.cost` (USD).
msgspec leaves UNSET fields out of what it encodes, so optional fields are UNSET, and no
response Struct uses `omit_defaults` (which would drop `role`, `object` and the nulls).
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType

from schemas.chat import (
    FunctionCall,
    FunctionDefinition,
    NamedFunction,
    ReasoningEffort,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
)

# -- requests ----------------------------------------------------------------------------


class ImageURL(Struct, omit_defaults=True):
    url: str
    detail: str | UnsetType = UNSET


class InputAudio(Struct):
    data: str
    format: str = "wav"


class TextContent(Struct, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | UnsetType = UNSET
    """Not OpenAI's: a prompt-caching breakpoint for Anthropic targets (as LiteLLM takes it)."""


class ImageContent(Struct, tag="image_url", tag_field="type"):
    image_url: ImageURL
    cache_control: dict[str, Any] | UnsetType = UNSET


class AudioContent(Struct, tag="input_audio", tag_field="type"):
    input_audio: InputAudio


class RefusalContent(Struct, tag="refusal", tag_field="type"):
    refusal: str


UserContent = TextContent | ImageContent | AudioContent
AssistantContent = TextContent | RefusalContent


class SystemMessageIn(Struct, tag="system", tag_field="role", omit_defaults=True):
    content: str | list[TextContent]
    name: str | UnsetType = UNSET


class DeveloperMessageIn(Struct, tag="developer", tag_field="role", omit_defaults=True):
    """OpenAI's newer name for a system message."""

    content: str | list[TextContent]
    name: str | UnsetType = UNSET


class UserMessageIn(Struct, tag="user", tag_field="role", omit_defaults=True):
    content: str | list[UserContent]
    name: str | UnsetType = UNSET


class AssistantMessageIn(Struct, tag="assistant", tag_field="role", omit_defaults=True):
    content: str | list[AssistantContent] | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    """Legacy function calling: the one call of this turn, without an id."""
    name: str | UnsetType = UNSET
    refusal: str | None = None


class ToolMessageIn(Struct, tag="tool", tag_field="role"):
    tool_call_id: str
    content: str | list[TextContent]


class FunctionMessageIn(Struct, tag="function", tag_field="role"):
    """Legacy function calling: the result of the previous turn's `function_call`."""

    name: str
    content: str | None = None


MessageIn = (
    SystemMessageIn
    | DeveloperMessageIn
    | UserMessageIn
    | AssistantMessageIn
    | ToolMessageIn
    | FunctionMessageIn
)


class StreamOptions(Struct, omit_defaults=True):
    include_usage: bool = False


class ChatCompletionBody(Struct, omit_defaults=True):
    """`POST /v1/chat/completions`; OpenAI's `null` means "not sent" for every optional field."""

    model: str
    messages: list[MessageIn]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    n: int | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: ReasoningEffort | None = None
    response_format: ResponseFormat | None = None
    functions: list[FunctionDefinition] | None = None
    """Legacy function calling (`tools` replaced it): read as function tools."""
    function_call: Literal["none", "auto"] | NamedFunction | None = None


OPENAI_ONLY_FIELDS = frozenset(
    {
        "audio",
        "logit_bias",
        "logprobs",
        "metadata",
        "modalities",
        "prediction",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "store",
        "top_logprobs",
        "user",
        "verbosity",
        "web_search_options",
    }
)
"""OpenAI parameters the unified schema has no name for: they travel only to OpenAI itself
(`vendor_extra["openai"]`); any other target reports them."""


class EmbeddingsBody(Struct):
    model: str
    input: str | list[str]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


# -- responses ---------------------------------------------------------------------------


class PromptTokensDetails(Struct):
    cached_tokens: int = 0


class CompletionTokensDetails(Struct):
    reasoning_tokens: int = 0


class CompletionUsage(Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | UnsetType = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType = UNSET
    cost: float | UnsetType | None = UNSET
    """Ours: what the call cost in USD (null when no price is configured)."""


class CompletionMessage(Struct):
    content: str | None
    role: Literal["assistant"] = "assistant"
    refusal: None = None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET
    """What reasoning models thought, where the vendor shows it (DeepSeek's and vLLM's field)."""


class CompletionChoice(Struct):
    index: int
    message: CompletionMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(Struct):
    id: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    object: Literal["chat.completion"] = "chat.completion"
    system_fingerprint: None = None


class DeltaFunction(Struct):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class DeltaToolCall(Struct):
    index: int
    function: DeltaFunction
    id: str | UnsetType = UNSET
    type: Literal["function"] | UnsetType = UNSET


class Delta(Struct):
    role: Literal["assistant"] | UnsetType = UNSET
    content: str | UnsetType | None = UNSET
    reasoning_content: str | UnsetType = UNSET
    tool_calls: list[DeltaToolCall] | UnsetType = UNSET


class ChunkChoice(Struct):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(Struct):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    system_fingerprint: None = None
    usage: CompletionUsage | UnsetType | None = UNSET
    """Absent without `include_usage`; with it, null on every chunk but the last."""
    unigate_warnings: list[str] | UnsetType = UNSET
    """On the first chunk only, when the gateway could not send something (the SDK keeps it
    as an extra attribute); also in the `Unigate-Warnings` header."""


class Embedding(Struct):
    index: int
    embedding: list[float] | str
    object: Literal["embedding"] = "embedding"


class EmbeddingUsage(Struct):
    prompt_tokens: int
    total_tokens: int
    cost: float | UnsetType | None = UNSET


class EmbeddingList(Struct):
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    object: Literal["list"] = "list"


class Model(Struct, omit_defaults=True):
    """OpenAI's model object, with the catalogue's fields beside it (as `list/models` names
    them; extra fields reach openai-SDK users in `model_extra`)."""

    id: str
    owned_by: str
    created: int
    object: Literal["model"]
    """Both always sent (no defaults: the Struct omits defaults), as OpenAI sends them."""
    task: str | UnsetType = UNSET
    meter: str | UnsetType = UNSET
    meterPrice: float | UnsetType = UNSET
    contextSize: int | UnsetType = UNSET
    maxOutput: int | UnsetType = UNSET
    capabilities: list[str] | UnsetType = UNSET
    known: bool | UnsetType = UNSET
    inputPrice: float | UnsetType = UNSET
    outputPrice: float | UnsetType = UNSET
    cachedInputPrice: float | UnsetType = UNSET
    cacheWritePrice: float | UnsetType = UNSET
    imagePrice: float | UnsetType = UNSET
    imagePrices: dict[str, float] | UnsetType = UNSET
    audioSecondPrice: float | UnsetType = UNSET
    characterPrice: float | UnsetType = UNSET
    audioInputPrice: float | UnsetType = UNSET
    longContext: list[dict[str, float]] | UnsetType = UNSET
    deprecated: str | UnsetType = UNSET


class ModelList(Struct):
    data: list[Model]
    object: Literal["list"] = "list"


class ErrorBody(Struct):
    message: str
    type: str
    code: str | None
    param: str | None = None


class ErrorAnswer(Struct):
    error: ErrorBody
