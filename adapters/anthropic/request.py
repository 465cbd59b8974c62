"""ChatRequest → an Anthropic Messages body. Pure functions; `warnings` collects what Anthropic
cannot take, so nothing is dropped silently.

Decisions the unified schema leaves open:
- `max_tokens` is required by Anthropic; without one we send `DEFAULT_MAX_TOKENS` (4096), or
  4096 on top of `thinking.budget_tokens` when `extra` enables thinking with a budget, since
  the budget counts toward `max_tokens` and must stay below it.
- `temperature`, `top_p`, `top_k` get a 400 under the `anthropic-version` the SDK sends
  (2026-10-21); like `seed` and the penalties they are not sent and are named in `warnings`.
- `json_object` has no native form: it becomes `output_config.format` with the schema
  `{"type": "object"}` (any JSON object). `json_schema` sends the schema alone; its name,
  description and strict flag have no Anthropic field.
- System messages join the top-level `system` in order, except those marked `inline` (the
  caller put them among the turns on Anthropic's own wire): they stay there.
- `reasoning` becomes `thinking` (`enabled` with a budget, `adaptive` without one, `disabled`;
  `display` from `summary`) and `output_config.effort` (minimal → low; none → thinking
  disabled). An effort alone turns on adaptive thinking, which Claude 4.6 and later take.
- `parallel_tool_calls: false` becomes `tool_choice.disable_parallel_tool_use` (with an
  `auto` choice when there was none); `is_error` on tool results travels; documents become
  `document` blocks.
- `vendor_extra["anthropic"]` (what the caller wrote for Anthropic: `context_management`,
  `metadata`, server tools, fields newer clients send) and a tool's own fields travel as
  written; `anthropic_betas` go in the `anthropic-beta` header (see `__init__.py`).
- Tool messages become `tool_result` blocks in one user turn (consecutive ones merged, a user
  message right after them joins the same turn after the results, as Anthropic requires).
- Assistant turns are rebuilt as reasoning blocks, then text, then `tool_use`, the order
  Anthropic produced them in; a reasoning part without a signature (another vendor's) cannot
  be verified by Anthropic and is left out with a warning.
- `cache_control` on a text or image part or a tool is sent on its block (a system prompt
  with a breakpoint stays a list of blocks, where one plain block becomes a string).
- `extra` and the vendor extras go to the top level verbatim; where they name a field we
  computed, ours wins, two objects (`output_config`) are merged and two lists (`tools`)
  joined. `stream` is the call's to decide and is skipped.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from adapters.media import split_data_url
from adapters.vendor_extra import own_vendor_extra
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    Content,
    DocumentPart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    Reasoning,
    ReasoningPart,
    ResponseFormat,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolMessage,
    UserMessage,
    VideoPart,
)
from schemas.errors import Code, GatewayError

PROVIDER = "anthropic"
DEFAULT_MAX_TOKENS = 4096
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_UNSENT = ("temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty")
_decode_json = msgspec.json.decode


def _unsupported(what: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, f"{PROVIDER} cannot take {what}", provider=PROVIDER)


def _cached(block: dict[str, Any], part: TextPart | ImagePart | DocumentPart | Tool) -> dict[str, Any]:
    """The block with the part's prompt-caching breakpoint, if it has one."""
    if part.cache_control is not UNSET:
        block["cache_control"] = part.cache_control
    return block


def to_anthropic_image(part: ImagePart, warnings: list[str]) -> dict[str, Any]:
    if part.detail is not UNSET:
        _warn(warnings, f"image detail is not supported by {PROVIDER}; it was not sent")
    if part.url is not UNSET:
        return _cached({"type": "image", "source": {"type": "url", "url": part.url}}, part)
    if part.base64 is UNSET:
        raise GatewayError(Code.INVALID_REQUEST, "an image part needs a url or base64", provider=PROVIDER)
    media_type, data = split_data_url(part.base64)
    if media_type not in IMAGE_TYPES:
        raise _unsupported(f"an image of type {media_type} (only JPEG, PNG, GIF and WebP)")
    source = {"type": "base64", "media_type": media_type, "data": data}
    return _cached({"type": "image", "source": source}, part)


def to_anthropic_document(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.text is not UNSET:
        source = {"type": "text", "media_type": "text/plain", "data": part.text}
    elif part.url is not UNSET:
        source = {"type": "url", "url": part.url}
    elif part.base64 is not UNSET:
        media_type, data = split_data_url(part.base64)
        source = {"type": "base64", "media_type": media_type, "data": data}
    else:
        raise GatewayError(
            Code.INVALID_REQUEST, "a document part needs a url, base64 or text", provider=PROVIDER
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.title is not UNSET:
        block["title"] = part.title
    if part.context is not UNSET:
        block["context"] = part.context
    return _cached(block, part)


def to_anthropic_content(
    content: Content, warnings: list[str], *, images: bool = True
) -> list[dict[str, Any]]:
    """Content as blocks; `images=False` where Anthropic takes text only (system, assistant)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(_cached({"type": "text", "text": part.text}, part))
        elif isinstance(part, ImagePart):
            if not images:
                raise _unsupported("an image part outside user and tool messages")
            blocks.append(to_anthropic_image(part, warnings))
        elif isinstance(part, DocumentPart):
            if not images:
                raise _unsupported("a document part outside user and tool messages")
            blocks.append(to_anthropic_document(part))
        elif isinstance(part, AudioPart):
            raise _unsupported("an audio part")
        elif isinstance(part, VideoPart):
            raise _unsupported("a video part")
    return blocks


def to_anthropic_system(messages: list[Message], warnings: list[str]) -> str | list[dict[str, Any]] | None:
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage) and message.inline is not True:
            blocks.extend(to_anthropic_content(message.content, warnings, images=False))
    if not blocks:
        return None
    if len(blocks) == 1 and "cache_control" not in blocks[0]:
        return str(blocks[0]["text"])
    return blocks


def to_anthropic_reasoning(parts: list[ReasoningPart], warnings: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if part.redacted is not UNSET:
            blocks.append({"type": "redacted_thinking", "data": part.redacted})
        elif part.signature is not UNSET:
            blocks.append({"type": "thinking", "thinking": part.text, "signature": part.signature})
        elif part.text:
            _warn(warnings, f"reasoning without an {PROVIDER} signature cannot be sent back; it was not sent")
    return blocks


def to_anthropic_tool_use(call: ToolCall) -> dict[str, Any]:
    arguments = call.function.arguments.strip()
    try:
        value = _decode_json(arguments) if arguments else {}
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict):
        raise GatewayError(
            Code.INVALID_REQUEST,
            f"the arguments of tool call {call.id} must be a JSON object",
            provider=PROVIDER,
        )
    return {"type": "tool_use", "id": call.id, "name": call.function.name, "input": value}


def to_anthropic_assistant(message: AssistantMessage, warnings: list[str]) -> dict[str, Any]:
    reasoning = to_anthropic_reasoning(message.reasoning or [], warnings)
    calls = [to_anthropic_tool_use(call) for call in message.tool_calls or []]
    if isinstance(message.content, str) and not reasoning and not calls:
        return {"role": "assistant", "content": message.content}
    text = [] if message.content is None else to_anthropic_content(message.content, warnings, images=False)
    return {"role": "assistant", "content": [*reasoning, *text, *calls]}


def to_anthropic_tool_result(message: ToolMessage, warnings: list[str]) -> dict[str, Any]:
    content: str | list[dict[str, Any]]
    content = (
        message.content
        if isinstance(message.content, str)
        else to_anthropic_content(message.content, warnings)
    )
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
    if message.is_error is not UNSET:
        block["is_error"] = message.is_error
    if message.cache_control is not UNSET:
        block["cache_control"] = message.cache_control
    return block


def to_anthropic_messages(messages: list[Message], warnings: list[str]) -> list[dict[str, Any]]:
    """Every turn but the system ones `to_anthropic_system` lifts to the top level."""
    turns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None
    """The blocks of the user turn that holds tool results, while it may still grow."""
    for message in messages:
        if isinstance(message, SystemMessage):
            if message.inline is True:
                results = None
                content = message.content
                text = (
                    content
                    if isinstance(content, str)
                    else to_anthropic_content(content, warnings, images=False)
                )
                turns.append({"role": "system", "content": text, **message.vendor_extra.get(PROVIDER, {})})
            continue
        if isinstance(message, ToolMessage):
            if results is None:
                results = []
                turns.append({"role": "user", "content": results})
            results.append(to_anthropic_tool_result(message, warnings))
        elif isinstance(message, UserMessage):
            if message.name is not UNSET:
                _warn(warnings, f"message names are not supported by {PROVIDER}; they were not sent")
            if results is not None:
                results.extend(to_anthropic_content(message.content, warnings))
                results = None
            else:
                content = message.content
                blocks = content if isinstance(content, str) else to_anthropic_content(content, warnings)
                turns.append({"role": "user", "content": blocks, **message.vendor_extra.get(PROVIDER, {})})
        else:
            results = None
            turns.append(to_anthropic_assistant(message, warnings))
    return turns


def to_anthropic_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        function = tool.function
        schema = (
            function.parameters if function.parameters is not UNSET else {"type": "object", "properties": {}}
        )
        definition: dict[str, Any] = {"name": function.name, "input_schema": schema}
        if function.description is not UNSET:
            definition["description"] = function.description
        if function.strict is not UNSET:
            definition["strict"] = function.strict
        for name, value in tool.vendor_extra.get(PROVIDER, {}).items():
            definition.setdefault(name, value)
        out.append(_cached(definition, tool))
    return out


def to_anthropic_tool_choice(
    choice: ToolChoice | None, parallel: bool | None = None
) -> dict[str, Any] | None:
    """None: send no `tool_choice`. Parallel calls are turned off only where a choice lets
    the model call tools (`none` takes no such flag)."""
    out: dict[str, Any] | None
    if choice is None:
        out = None if parallel is not False else {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, str):
        out = {"type": choice}
    else:
        out = {"type": "tool", "name": choice.function.name}
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


_EFFORTS = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


def to_anthropic_thinking(reasoning: Reasoning) -> tuple[dict[str, Any] | None, str | None]:
    """(`thinking`, `output_config.effort`); None where nothing is to be sent."""
    effort = _EFFORTS.get(reasoning.effort) if reasoning.effort is not UNSET else None
    thinking: dict[str, Any] | None = None
    if reasoning.enabled is False or reasoning.effort == "none":
        thinking = {"type": "disabled"}
    elif reasoning.budget_tokens is not UNSET:
        thinking = {"type": "enabled", "budget_tokens": reasoning.budget_tokens}
    elif reasoning.enabled is True or effort is not None:
        thinking = {"type": "adaptive"}
    if thinking is not None and thinking["type"] != "disabled" and reasoning.summary is not UNSET:
        thinking["display"] = "omitted" if reasoning.summary == "none" else "summarized"
    return thinking, effort


def to_anthropic_output_format(response_format: ResponseFormat) -> dict[str, Any] | None:
    if isinstance(response_format, JsonSchemaFormat):
        return {"type": "json_schema", "schema": response_format.json_schema.schema}
    if isinstance(response_format, JsonObjectFormat):
        return {"type": "json_schema", "schema": {"type": "object"}}
    return None


def to_anthropic_sampling(sampling: Sampling, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sampling.max_tokens is not UNSET:
        out["max_tokens"] = sampling.max_tokens
    if sampling.stop is not UNSET:
        out["stop_sequences"] = sampling.stop
    for name in _UNSENT:
        if getattr(sampling, name) is not UNSET:
            warnings.append(f"{name} is not supported by {PROVIDER}; it was not sent")
    return out


def default_max_tokens(thinking: Any) -> int:
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    return DEFAULT_MAX_TOKENS + budget if isinstance(budget, int) and budget > 0 else DEFAULT_MAX_TOKENS


def to_anthropic_body(request: ChatRequest, model: str, warnings: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model}
    system = to_anthropic_system(request.messages, warnings)
    if system is not None:
        body["system"] = system
    body["messages"] = to_anthropic_messages(request.messages, warnings)
    body.update(to_anthropic_sampling(request.sampling, warnings))
    if request.tools is not UNSET and request.tools:
        body["tools"] = to_anthropic_tools(request.tools)
    tool_choice = to_anthropic_tool_choice(
        request.tool_choice if request.tool_choice is not UNSET else None,
        request.parallel_tool_calls if request.parallel_tool_calls is not UNSET else None,
    )
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    output_config: dict[str, Any] = {}
    if request.response_format is not UNSET:
        output_format = to_anthropic_output_format(request.response_format)
        if output_format is not None:
            output_config["format"] = output_format
    if request.reasoning is not UNSET:
        thinking, effort = to_anthropic_thinking(request.reasoning)
        if thinking is not None:
            body["thinking"] = thinking
        if effort is not None:
            output_config["effort"] = effort
    if output_config:
        body["output_config"] = output_config
    _merge(body, own_vendor_extra(request, PROVIDER, warnings))
    _merge(body, request.extra)
    if "max_tokens" not in body:
        body["max_tokens"] = default_max_tokens(body.get("thinking"))
    if request.stream:
        body["stream"] = True
    return body


def _merge(body: dict[str, Any], extra: dict[str, Any]) -> None:
    for name, value in extra.items():
        if name == "stream":
            continue
        ours = body.get(name)
        if ours is None:
            body[name] = value
        elif isinstance(ours, dict) and isinstance(value, dict):
            body[name] = {**value, **ours}
        elif isinstance(ours, list) and isinstance(value, list):
            body[name] = [*ours, *value]


def _warn(warnings: list[str], sentence: str) -> None:
    if sentence not in warnings:
        warnings.append(sentence)
