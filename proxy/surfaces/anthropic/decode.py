"""Anthropic Messages bodies → the unified ChatRequest. Pure.

- `system` becomes the first message; a `{"role": "system"}` turn among the others (Claude
  Code sends them) becomes a system message marked `inline`, kept in its place. A user turn's
  `tool_result` blocks become tool messages (before the turn's own text and images, the order
  every vendor accepts) with their `is_error`, `tool_use` blocks tool calls with their
  `input` as a JSON string, `thinking` / `redacted_thinking` blocks ReasoningParts with their
  signature, so a tool loop with thinking round-trips to Anthropic; `document` blocks
  DocumentParts.
- `tool_choice` any → required, tool → the named function, `disable_parallel_tool_use` →
  `parallel_tool_calls`; `output_config.format` → `response_format` json_schema;
  `thinking` and `output_config.effort` → `reasoning`; `stop_sequences` → stop; sampling by
  its unified names; the `anthropic-beta` header's names → `anthropic_betas`.
- Everything else (`context_management`, `metadata`, `service_tier`, the rest of
  `output_config`, fields newer clients send that we do not know yet, a tool's own fields such
  as `defer_loading`, Anthropic's server tools) is Anthropic's: it rides in `vendor_extra`,
  sent to an Anthropic target as written and reported by any other target's adapter. A known
  field of the wrong shape is still a 400.
- `cache_control` travels on system, text, image and document blocks, tool results and tools
  (to Anthropic; other vendors get a warning). Not carried: `cache_control` on assistant
  turns' blocks (their text is joined) and citations.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from proxy.surfaces.intake import invalid
from schemas.anthropic_surface import (
    BlockIn,
    DocumentBlockIn,
    Effort,
    ImageBlockIn,
    MessageIn,
    MessagesBody,
    RedactedThinkingBlockIn,
    TextBlockIn,
    Thinking,
    ThinkingAdaptive,
    ThinkingBlockIn,
    ThinkingEnabled,
    ToolChoiceIn,
    ToolIn,
    ToolResultBlockIn,
    ToolUseBlockIn,
)
from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    ContentPart,
    DocumentPart,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    JsonSchema,
    JsonSchemaFormat,
    Message,
    NamedFunction,
    NamedToolChoice,
    Reasoning,
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
_MAPPED = frozenset(MessagesBody.__struct_fields__) - {"context_management", "metadata", "output_config"}
"""Fields the unified schema holds; every other field is Anthropic's own (`vendor_extra`)."""
_TOOL_FIELDS = frozenset({"name", "input_schema", "description", "strict", "type", "cache_control"})
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


def _document(block: DocumentBlockIn, where: str) -> DocumentPart:
    source = block.source
    part = DocumentPart(cache_control=block.cache_control)
    if isinstance(block.title, str):
        part.title = block.title
    if isinstance(block.context, str):
        part.context = block.context
    if source.type == "base64" and source.data is not UNSET:
        media_type = source.media_type if source.media_type is not UNSET else "application/pdf"
        part.base64 = f"data:{media_type};base64,{source.data}"
    elif source.type == "url" and source.url is not UNSET:
        part.url = source.url
    elif source.type == "text" and source.data is not UNSET:
        part.text = source.data
    elif source.type == "content" and source.content is not UNSET:
        blocks = [source.content] if isinstance(source.content, str) else source.content
        texts = [
            item if isinstance(item, str) else item.text
            for item in blocks
            if not isinstance(item, ImageBlockIn)
        ]
        if len(texts) < len(blocks):
            raise GatewayError(Code.UNSUPPORTED, f"{where}: images inside a document are not supported")
        part.text = "\n\n".join(texts)
    else:
        raise GatewayError(
            Code.UNSUPPORTED, f"{where}: a document source of type {source.type!r} is not supported"
        )
    return part


def _parts(blocks: list[TextBlockIn | ImageBlockIn | DocumentBlockIn], where: str) -> list[ContentPart]:
    parts: list[ContentPart] = []
    for i, block in enumerate(blocks):
        if isinstance(block, TextBlockIn):
            parts.append(_text(block))
        elif isinstance(block, ImageBlockIn):
            parts.append(_image(block, f"{where}[{i}]"))
        else:
            parts.append(_document(block, f"{where}[{i}]"))
    return parts


def _user_turn(blocks: list[BlockIn], where: str) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for i, block in enumerate(blocks):
        at = f"{where}.content[{i}]"
        if isinstance(block, ToolResultBlockIn):
            content = block.content if isinstance(block.content, str) else _parts(block.content, at)
            results.append(
                ToolMessage(
                    tool_call_id=block.tool_use_id,
                    content=content,
                    cache_control=block.cache_control,
                    is_error=block.is_error,
                )
            )
        elif isinstance(block, TextBlockIn):
            parts.append(_text(block))
        elif isinstance(block, ImageBlockIn):
            parts.append(_image(block, at))
        elif isinstance(block, DocumentBlockIn):
            parts.append(_document(block, at))
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


def _system_turn(turn: MessageIn, where: str) -> SystemMessage:
    if isinstance(turn.content, str):
        return SystemMessage(content=turn.content, inline=True)
    parts: list[ContentPart] = []
    for i, block in enumerate(turn.content):
        if not isinstance(block, TextBlockIn):
            kind = type(block).__struct_config__.tag
            raise invalid(f"{where}.content[{i}]: a system turn takes text blocks only, not {kind}")
        parts.append(_text(block))
    return SystemMessage(content=parts, inline=True)


def _turn_extra(written: Any, turn: list[Message]) -> None:
    """A turn's fields besides role and content (Claude Code's per-turn `output_config`) go
    on its system or user message, for Anthropic."""
    own = {name: value for name, value in written.items() if name not in ("role", "content")}
    if own and turn and isinstance(turn[-1], SystemMessage | UserMessage):
        turn[-1].vendor_extra = {ANTHROPIC: own}


def to_messages(body: MessagesBody, written: list[Any] | None = None) -> list[Message]:
    messages: list[Message] = []
    if isinstance(body.system, str) and body.system:
        messages.append(SystemMessage(content=body.system))
    elif isinstance(body.system, list) and body.system:
        messages.append(SystemMessage(content=[_text(block) for block in body.system]))
    for index, turn in enumerate(body.messages):
        where = f"messages[{index}]"
        start = len(messages)
        if turn.role == "system":
            messages.append(_system_turn(turn, where))
        elif isinstance(turn.content, str):
            text = turn.content
            messages.append(
                UserMessage(content=text) if turn.role == "user" else AssistantMessage(content=text)
            )
        elif turn.role == "user":
            messages.extend(_user_turn(turn.content, where))
        else:
            messages.append(_assistant_turn(turn.content, where))
        if written is not None and isinstance(written[index], dict):
            _turn_extra(written[index], messages[start:])
    return messages


def to_tools(tools: list[ToolIn], raw: list[Any]) -> tuple[list[Tool], list[Any]]:
    """(function tools, Anthropic's server tools as written). A tool's fields the unified
    schema has no name for (`defer_loading`, `input_examples`, ...) ride in its `vendor_extra`."""
    out: list[Tool] = []
    server: list[Any] = []
    for tool, written in zip(tools, raw, strict=True):
        if tool.type not in (UNSET, "custom"):
            server.append(written)
            continue
        schema = tool.input_schema if tool.input_schema is not UNSET else dict(_EMPTY_SCHEMA)
        definition = FunctionDefinition(name=tool.name, description=tool.description, parameters=schema)
        definition.strict = tool.strict
        unified = Tool(function=definition, cache_control=tool.cache_control)
        own = {name: value for name, value in written.items() if name not in _TOOL_FIELDS}
        if own:
            unified.vendor_extra = {ANTHROPIC: own}
        out.append(unified)
    return out, server


def to_tool_choice(choice: ToolChoiceIn) -> ToolChoice:
    if choice.type == "tool":
        if choice.name is UNSET:
            raise invalid("tool_choice: a choice of type tool needs a name")
        return NamedToolChoice(function=NamedFunction(name=choice.name))
    return "required" if choice.type == "any" else choice.type


def to_reasoning(thinking: Thinking | UnsetType, effort: Effort | UnsetType) -> Reasoning | None:
    """`thinking` and `output_config.effort` as the unified reasoning (None: neither sent)."""
    reasoning = Reasoning()
    if isinstance(thinking, ThinkingEnabled | ThinkingAdaptive):
        reasoning.enabled = True
        if isinstance(thinking, ThinkingEnabled):
            reasoning.budget_tokens = thinking.budget_tokens
        if thinking.display is not UNSET:
            reasoning.summary = "auto" if thinking.display == "summarized" else "none"
    elif thinking is not UNSET:
        reasoning.enabled = False
    if effort is not UNSET:
        reasoning.effort = effort
    return None if reasoning == Reasoning() else reasoning


def anthropic_betas(header: str | None) -> list[str]:
    """The names in an `anthropic-beta` header (comma-separated), each once, in order."""
    names = (name.strip() for name in (header or "").split(","))
    return list(dict.fromkeys(name for name in names if name))


def _vendor_extra(fields: dict[str, Any], server_tools: list[Any]) -> dict[str, Any]:
    own = {name: value for name, value in fields.items() if name not in _MAPPED}
    output_config = own.pop("output_config", None)
    if isinstance(output_config, dict):
        rest = {key: item for key, item in output_config.items() if key not in ("format", "effort")}
        if rest:
            own["output_config"] = rest
    if server_tools:
        own["tools"] = server_tools
    return own


def to_chat_request(
    model_id: str, body: MessagesBody, fields: dict[str, Any], betas: str | None = None
) -> ChatRequest:
    if not body.messages:
        raise invalid("messages: at least one message is required")
    sampling = Sampling(
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, top_k=body.top_k
    )
    if body.stop_sequences is not UNSET and body.stop_sequences:
        sampling.stop = body.stop_sequences
    messages = to_messages(body, fields.get("messages"))
    request = ChatRequest(model=model_id, messages=messages, stream=body.stream, sampling=sampling)
    server_tools: list[Any] = []
    if body.tools is not UNSET and body.tools:
        tools, server_tools = to_tools(body.tools, fields["tools"])
        if tools:
            request.tools = tools
    if body.tool_choice is not UNSET:
        request.tool_choice = to_tool_choice(body.tool_choice)
        if body.tool_choice.disable_parallel_tool_use is not UNSET:
            request.parallel_tool_calls = not body.tool_choice.disable_parallel_tool_use
    output_config = body.output_config if body.output_config is not UNSET else None
    if output_config is not None and output_config.format is not UNSET:
        schema = output_config.format.schema
        request.response_format = JsonSchemaFormat(json_schema=JsonSchema(schema=schema))
    reasoning = to_reasoning(body.thinking, output_config.effort if output_config else UNSET)
    if reasoning is not None:
        request.reasoning = reasoning
    names = anthropic_betas(betas)
    if names:
        request.anthropic_betas = names
    own = _vendor_extra(fields, server_tools)
    if own:
        request.vendor_extra = {ANTHROPIC: own}
    return request
