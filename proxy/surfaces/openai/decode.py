"""OpenAI request bodies → the unified ChatRequest and EmbeddingRequest. Pure.

Fields the unified schema names map to it (`reasoning_effort` → `reasoning.effort`,
`parallel_tool_calls`, legacy `functions` / `function_call` → function tools and their
choice, an assistant's `function_call` and `function` results → a tool call and its result
under an id made from the turn's place); OpenAI's own parameters it has no name for
(`logprobs`, `service_tier`, ...) ride in `vendor_extra["openai"]`, sent to an OpenAI target
and reported by any other; anything else unknown (what a client puts in `extra_body` for its
vendor) travels verbatim, like the native surface's `params`.

Embeddings never fall back to another vendor, so their OpenAI-only fields are kept only
when the route's first target is OpenAI.
"""

from __future__ import annotations

from typing import Any

from proxy.surfaces.intake import invalid
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    NamedToolChoice,
    Reasoning,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolMessage,
    UserMessage,
)
from schemas.embeddings import EmbeddingRequest
from schemas.errors import Code, GatewayError
from schemas.openai_surface import (
    OPENAI_ONLY_FIELDS,
    AssistantMessageIn,
    ChatCompletionBody,
    DeveloperMessageIn,
    EmbeddingsBody,
    FunctionMessageIn,
    ImageContent,
    MessageIn,
    RefusalContent,
    SystemMessageIn,
    TextContent,
    ToolMessageIn,
    UserContent,
    UserMessageIn,
)

_CHAT_FIELDS = frozenset(ChatCompletionBody.__struct_fields__)
_EMBEDDING_FIELDS = frozenset(EmbeddingsBody.__struct_fields__)
OPENAI = "openai"


def _text(parts: str | list[TextContent]) -> str | list[ContentPart]:
    if isinstance(parts, str):
        return parts
    return [TextPart(text=part.text, cache_control=part.cache_control) for part in parts]


def _user_part(part: UserContent, where: str) -> ContentPart:
    if isinstance(part, TextContent):
        return TextPart(text=part.text, cache_control=part.cache_control)
    if isinstance(part, ImageContent):
        url = part.image_url.url
        detail = part.image_url.detail
        if url.startswith("data:"):
            return ImagePart(base64=url, detail=detail, cache_control=part.cache_control)
        if not url.startswith(("http://", "https://")):
            raise invalid(f"{where}: image_url.url must be http(s) or a data URL")
        return ImagePart(url=url, detail=detail, cache_control=part.cache_control)
    audio = part.input_audio
    return AudioPart(base64=f"data:audio/{audio.format};base64,{audio.data}")


def legacy_call_id(position: int) -> str:
    """The id of the legacy `function_call` in the turn at `position`; its `function` result
    answers the latest call of the same name."""
    return f"call_function_{position}"


def _assistant(message: AssistantMessageIn, position: int) -> AssistantMessage:
    content: str | list[ContentPart] | None
    if isinstance(message.content, list):
        content = [
            TextPart(text=part.refusal if isinstance(part, RefusalContent) else part.text)
            for part in message.content
        ]
    else:
        content = message.content
    out = AssistantMessage(content=content, name=message.name)
    if message.tool_calls:
        out.tool_calls = message.tool_calls
    elif message.function_call is not None:
        out.tool_calls = [ToolCall(id=legacy_call_id(position), function=message.function_call)]
    elif content is None:
        out.content = message.refusal or ""
    return out


def to_messages(messages: list[MessageIn]) -> list[Message]:
    out: list[Message] = []
    calls: dict[str, str] = {}
    """A legacy function's name → the id of its latest call."""
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if isinstance(message, FunctionMessageIn):
            call_id = calls.get(message.name)
            if call_id is None:
                raise invalid(
                    f"{where}: a function result answers no earlier function_call of {message.name!r}"
                )
            out.append(ToolMessage(tool_call_id=call_id, content=message.content or "", name=message.name))
        elif isinstance(message, AssistantMessageIn):
            if message.function_call is not None and not message.tool_calls:
                calls[message.function_call.name] = legacy_call_id(position)
            out.append(_assistant(message, position))
        else:
            out.append(to_message(message, where))
    return out


def to_message(message: MessageIn, where: str) -> Message:
    if isinstance(message, SystemMessageIn | DeveloperMessageIn):
        return SystemMessage(content=_text(message.content))
    if isinstance(message, UserMessageIn):
        if isinstance(message.content, str):
            return UserMessage(content=message.content, name=message.name)
        parts = [_user_part(part, f"{where}.content[{i}]") for i, part in enumerate(message.content)]
        return UserMessage(content=parts, name=message.name)
    if isinstance(message, ToolMessageIn):
        return ToolMessage(tool_call_id=message.tool_call_id, content=_text(message.content))
    if isinstance(message, FunctionMessageIn):
        raise invalid(f"{where}: a function result belongs in a conversation")  # to_messages pairs it
    return _assistant(message, 0)


def to_sampling(body: ChatCompletionBody) -> Sampling:
    sampling = Sampling()
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    if max_tokens is not None:
        sampling.max_tokens = max_tokens
    if body.stop is not None:
        sampling.stop = [body.stop] if isinstance(body.stop, str) else body.stop
    for name in ("temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty"):
        value = getattr(body, name)
        if value is not None:
            setattr(sampling, name, value)
    return sampling


def extras(fields: dict[str, Any], known: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body's fields the surface does not map: (for any target, for OpenAI only)."""
    extra: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for name, value in fields.items():
        if name in known:
            continue
        (own if name in OPENAI_ONLY_FIELDS else extra)[name] = value
    return extra, own


def _legacy_tools(body: ChatCompletionBody) -> tuple[list[Tool] | None, ToolChoice | None]:
    if body.functions is not None and body.tools is not None:
        raise invalid("send tools or the legacy functions, not both")
    tools = body.tools if body.functions is None else [Tool(function=function) for function in body.functions]
    if body.function_call is not None and body.tool_choice is not None:
        raise invalid("send tool_choice or the legacy function_call, not both")
    choice: ToolChoice | None = body.tool_choice
    if isinstance(body.function_call, str):
        choice = body.function_call
    elif body.function_call is not None:
        choice = NamedToolChoice(function=body.function_call)
    return tools, choice


def to_chat_request(model_id: str, body: ChatCompletionBody, fields: dict[str, Any]) -> ChatRequest:
    if not body.messages:
        raise invalid("messages must not be empty")
    if body.n is not None and body.n != 1:
        raise GatewayError(Code.UNSUPPORTED, "n must be 1: unigate returns one choice per request")
    extra, own = extras(fields, _CHAT_FIELDS)
    request = ChatRequest(
        model=model_id,
        messages=to_messages(body.messages),
        stream=bool(body.stream),
        sampling=to_sampling(body),
        extra=extra,
    )
    if own:
        request.vendor_extra = {OPENAI: own}
    tools, tool_choice = _legacy_tools(body)
    if tools:
        request.tools = tools
    if tool_choice is not None:
        request.tool_choice = tool_choice
    if body.parallel_tool_calls is not None:
        request.parallel_tool_calls = body.parallel_tool_calls
    if body.reasoning_effort is not None:
        request.reasoning = Reasoning(effort=body.reasoning_effort)
    if body.response_format is not None:
        request.response_format = body.response_format
    return request


def to_embedding_request(
    model_id: str, body: EmbeddingsBody, fields: dict[str, Any], provider: str | None
) -> EmbeddingRequest:
    if isinstance(body.input, list) and not body.input:
        raise invalid("input must not be empty")
    extra, own = extras(fields, _EMBEDDING_FIELDS)
    if provider == OPENAI:
        extra.update(own)
    request = EmbeddingRequest(model=model_id, input=body.input, extra=extra)
    if body.user is not None and provider == OPENAI:
        request.extra["user"] = body.user
    if body.dimensions is not None:
        request.dimensions = body.dimensions
    if body.encoding_format is not None:
        request.encoding_format = body.encoding_format
    return request
