"""Anthropic Messages bodies → the unified ChatRequest. Pure.

- `system` becomes the first message; a user turn's `tool_result` blocks become tool messages
  (before the turn's own text and images, the order every vendor accepts), `tool_use` blocks
  tool calls with their `input` as a JSON string, `thinking` / `redacted_thinking` blocks
  ReasoningParts with their signature, so a tool loop with thinking round-trips to Anthropic.
- `tool_choice` any → required, tool → the named function; `output_config.format` →
  `response_format` json_schema; `stop_sequences` → stop; sampling by its unified names.
- Anthropic's own parameters (`thinking`, `metadata`, `service_tier`, the rest of
  `output_config`, ...) travel in `extra` only when the route's first target is Anthropic;
  unknown fields travel verbatim, as on the other surfaces.
- `cache_control` travels on system, text and image blocks, tool results and tools (to
  Anthropic; other vendors get a warning). Not carried: `cache_control` on assistant turns'
  blocks (their text is joined), citations, `is_error` on tool results, and
  `disable_parallel_tool_use`; Anthropic's server tools and document blocks are a 400.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from proxy.surfaces.intake import invalid
from schemas.anthropic_surface import (
    ANTHROPIC_ONLY_FIELDS,
    BlockIn,
    ImageBlockIn,
    MessagesBody,
    RedactedThinkingBlockIn,
    TextBlockIn,
    ThinkingBlockIn,
    ToolChoiceIn,
    ToolIn,
    ToolResultBlockIn,
    ToolUseBlockIn,
)
from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    ContentPart,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    JsonSchema,
    JsonSchemaFormat,
    Message,
    NamedFunction,
    NamedToolChoice,
    ReasoningPart,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolMessage,
    UserMessage,
)
from schemas.errors import Code, GatewayError

ANTHROPIC = "anthropic"
_KNOWN = frozenset(MessagesBody.__struct_fields__)
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_encode_json = msgspec.json.encode


def _image(block: ImageBlockIn, where: str) -> ImagePart:
    source = block.source
    if source.type == "base64" and source.data is not UNSET and source.media_type is not UNSET:
        return ImagePart(
            base64=f"data:{source.media_type};base64,{source.data}", cache_control=block.cache_control
        )
    if source.type == "url" and source.url is not UNSET:
        return ImagePart(url=source.url, cache_control=block.cache_control)
    raise GatewayError(Code.UNSUPPORTED, f"{where}: an image source of type {source.type!r} is not supported")


def _text(block: TextBlockIn) -> TextPart:
    return TextPart(text=block.text, cache_control=block.cache_control)


def _parts(blocks: list[TextBlockIn | ImageBlockIn], where: str) -> list[ContentPart]:
    return [
        _text(block) if isinstance(block, TextBlockIn) else _image(block, f"{where}[{i}]")
        for i, block in enumerate(blocks)
    ]


def _user_turn(blocks: list[BlockIn], where: str) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for i, block in enumerate(blocks):
        at = f"{where}.content[{i}]"
        if isinstance(block, ToolResultBlockIn):
            content = block.content if isinstance(block.content, str) else _parts(block.content, at)
            results.append(
                ToolMessage(
                    tool_call_id=block.tool_use_id, content=content, cache_control=block.cache_control
                )
            )
        elif isinstance(block, TextBlockIn):
            parts.append(_text(block))
        elif isinstance(block, ImageBlockIn):
            parts.append(_image(block, at))
        else:
            raise invalid(f"{at}: a {type(block).__struct_config__.tag} block belongs in an assistant turn")
    if parts:
        results.append(UserMessage(content=parts))
    return results


def _assistant_turn(blocks: list[BlockIn], where: str) -> AssistantMessage:
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[ReasoningPart] = []
    for i, block in enumerate(blocks):
        if isinstance(block, TextBlockIn):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlockIn):
            arguments = _encode_json({} if block.input is None else block.input).decode()
            calls.append(ToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=arguments)))
        elif isinstance(block, ThinkingBlockIn):
            part = ReasoningPart(text=block.thinking)
            if block.signature:
                part.signature = block.signature
            reasoning.append(part)
        elif isinstance(block, RedactedThinkingBlockIn):
            reasoning.append(ReasoningPart(redacted=block.data))
        else:
            kind = type(block).__struct_config__.tag
            raise invalid(f"{where}.content[{i}]: a {kind} block belongs in a user turn")
    message = AssistantMessage(content="".join(texts) if texts or not calls else None)
    if calls:
        message.tool_calls = calls
    if reasoning:
        message.reasoning = reasoning
    return message


def to_messages(body: MessagesBody) -> list[Message]:
    messages: list[Message] = []
    if isinstance(body.system, str) and body.system:
        messages.append(SystemMessage(content=body.system))
    elif isinstance(body.system, list) and body.system:
        messages.append(SystemMessage(content=[_text(block) for block in body.system]))
    for index, turn in enumerate(body.messages):
        where = f"messages[{index}]"
        if isinstance(turn.content, str):
            text = turn.content
            messages.append(
                UserMessage(content=text) if turn.role == "user" else AssistantMessage(content=text)
            )
        elif turn.role == "user":
            messages.extend(_user_turn(turn.content, where))
        else:
            messages.append(_assistant_turn(turn.content, where))
    return messages


def to_tools(tools: list[ToolIn]) -> list[Tool]:
    out: list[Tool] = []
    for tool in tools:
        if tool.type not in (UNSET, "custom"):
            raise GatewayError(
                Code.UNSUPPORTED,
                f"Anthropic's server tool {tool.type!r} is not supported; define it as a tool",
            )
        schema = tool.input_schema if tool.input_schema is not UNSET else dict(_EMPTY_SCHEMA)
        definition = FunctionDefinition(name=tool.name, description=tool.description, parameters=schema)
        definition.strict = tool.strict
        out.append(Tool(function=definition, cache_control=tool.cache_control))
    return out


def to_tool_choice(choice: ToolChoiceIn) -> ToolChoice:
    if choice.type == "tool":
        if choice.name is UNSET:
            raise invalid("tool_choice: a choice of type tool needs a name")
        return NamedToolChoice(function=NamedFunction(name=choice.name))
    return "required" if choice.type == "any" else choice.type


def _extras(fields: dict[str, Any], provider: str | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    anthropic = provider == ANTHROPIC
    for name, value in fields.items():
        if name == "output_config" and anthropic and isinstance(value, dict):
            rest = {key: item for key, item in value.items() if key != "format"}
            if rest:
                extra[name] = rest
        elif name in _KNOWN or (name in ANTHROPIC_ONLY_FIELDS and not anthropic):
            continue
        else:
            extra[name] = value
    return extra


def to_chat_request(
    model_id: str, body: MessagesBody, fields: dict[str, Any], provider: str | None
) -> ChatRequest:
    if not body.messages:
        raise invalid("messages: at least one message is required")
    sampling = Sampling(
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, top_k=body.top_k
    )
    if body.stop_sequences is not UNSET and body.stop_sequences:
        sampling.stop = body.stop_sequences
    request = ChatRequest(
        model=model_id,
        messages=to_messages(body),
        stream=body.stream,
        sampling=sampling,
        extra=_extras(fields, provider),
    )
    if body.tools is not UNSET and body.tools:
        request.tools = to_tools(body.tools)
    if body.tool_choice is not UNSET:
        request.tool_choice = to_tool_choice(body.tool_choice)
    if body.output_config is not UNSET and body.output_config.format is not UNSET:
        schema = body.output_config.format.schema
        request.response_format = JsonSchemaFormat(json_schema=JsonSchema(schema=schema))
    return request
