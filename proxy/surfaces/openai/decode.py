"""OpenAI request bodies → the unified ChatRequest and EmbeddingRequest. Pure.

Fields the unified schema names map to it; OpenAI's own parameters it has no name for
(`logprobs`, `reasoning_effort`, `parallel_tool_calls`, ...) travel in `extra` only when the
route's first target is OpenAI, since no other vendor takes them; anything else unknown
(what a client puts in `extra_body` for its vendor) travels verbatim, like the native
surface's `params`.
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
    Sampling,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from schemas.embeddings import EmbeddingRequest
from schemas.errors import Code, GatewayError
from schemas.openai_surface import (
    DROPPED_FIELDS,
    OPENAI_ONLY_FIELDS,
    AssistantMessageIn,
    ChatCompletionBody,
    DeveloperMessageIn,
    EmbeddingsBody,
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


def _assistant(message: AssistantMessageIn) -> AssistantMessage:
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
    elif content is None:
        out.content = message.refusal or ""
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
    return _assistant(message)


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


def extras(fields: dict[str, Any], known: frozenset[str], provider: str | None) -> dict[str, Any]:
    """The body's fields the surface does not map, as `extra` for the route's first target."""
    extra: dict[str, Any] = {}
    for name, value in fields.items():
        if name in known or name in DROPPED_FIELDS:
            continue
        if name in OPENAI_ONLY_FIELDS and provider != OPENAI:
            continue
        extra[name] = value
    return extra


def to_chat_request(
    model_id: str, body: ChatCompletionBody, fields: dict[str, Any], provider: str | None
) -> ChatRequest:
    if not body.messages:
        raise invalid("messages must not be empty")
    if body.n is not None and body.n != 1:
        raise GatewayError(Code.UNSUPPORTED, "n must be 1: unigate returns one choice per request")
    request = ChatRequest(
        model=model_id,
        messages=[to_message(message, f"messages[{i}]") for i, message in enumerate(body.messages)],
        stream=bool(body.stream),
        sampling=to_sampling(body),
        extra=extras(fields, _CHAT_FIELDS, provider),
    )
    if body.tools:
        request.tools = body.tools
    if body.tool_choice is not None:
        request.tool_choice = body.tool_choice
    if body.response_format is not None:
        request.response_format = body.response_format
    return request


def to_embedding_request(
    model_id: str, body: EmbeddingsBody, fields: dict[str, Any], provider: str | None
) -> EmbeddingRequest:
    if isinstance(body.input, list) and not body.input:
        raise invalid("input must not be empty")
    request = EmbeddingRequest(
        model=model_id, input=body.input, extra=extras(fields, _EMBEDDING_FIELDS, provider)
    )
    if body.user is not None and provider == OPENAI:
        request.extra["user"] = body.user
    if body.dimensions is not None:
        request.dimensions = body.dimensions
    if body.encoding_format is not None:
        request.encoding_format = body.encoding_format
    return request
