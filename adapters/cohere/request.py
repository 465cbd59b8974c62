"""ChatRequest → a Cohere v2 Chat body. Pure functions; `warnings` collects what Cohere
cannot take, so nothing is dropped silently.

Decisions worth knowing:
- Reasoning on an assistant turn that called tools goes back as `tool_plan` (the slot
  Cohere's chat template gives the text before tool calls, and where the response decoder
  reads a plan from); on other turns it goes back as `thinking` content items.
- A named `tool_choice` has no Cohere equivalent: it becomes `REQUIRED` with only the named
  tool offered, which forces that tool, and a warning says so.
- `reasoning` becomes `thinking` (`disabled`, or `enabled` with a `token_budget` when a budget
  was given); Cohere has no effort level or thinking display, so those are reported.
- A text document is sent as text; a PDF is a 400 (Cohere's `documents` take text only).
  `parallel_tool_calls: false` and `is_error` on a tool result have no Cohere field and are
  reported; `vendor_extra["cohere"]` travels, every other vendor's is reported.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from adapters.media import to_data_url
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
    NamedToolChoice,
    Reasoning,
    ReasoningPart,
    ResponseFormat,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    UserMessage,
    VideoPart,
    cache_control_unsent,
)
from schemas.errors import Code, GatewayError

PROVIDER = "cohere"


def _unsupported(what: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, f"{PROVIDER} cannot take {what}", provider=PROVIDER)


def _warn(warnings: list[str], text: str) -> None:
    if text not in warnings:
        warnings.append(text)


_PART_NAMES = {
    ImagePart: "an image part",
    AudioPart: "an audio part",
    VideoPart: "a video part",
    DocumentPart: "a PDF document",
}


def _text_document(part: DocumentPart) -> dict[str, Any] | None:
    if part.text is UNSET:
        return None
    heading = f"{part.title}\n\n" if part.title is not UNSET else ""
    return {"type": "text", "text": heading + part.text}


def to_cohere_text_parts(content: Content, where: str) -> str | list[dict[str, Any]]:
    """System, assistant and tool messages take text only."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        document = _text_document(part) if isinstance(part, DocumentPart) else None
        if document is not None:
            parts.append(document)
        elif not isinstance(part, TextPart):
            raise _unsupported(f"{_PART_NAMES[type(part)]} in {where}")
        else:
            parts.append({"type": "text", "text": part.text})
    return parts


def to_cohere_user_content(content: Content) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = part.url if part.url is not UNSET else to_data_url(str(part.base64))
            image: dict[str, Any] = {"url": url}
            if part.detail is not UNSET:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
        elif isinstance(part, DocumentPart) and (document := _text_document(part)) is not None:
            parts.append(document)
        else:
            raise _unsupported(_PART_NAMES[type(part)])
    return parts


def to_cohere_tool_calls(tool_calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments or "{}"},
        }
        for call in tool_calls
    ]


def _reasoning_texts(reasoning: list[ReasoningPart], warnings: list[str]) -> list[str]:
    texts: list[str] = []
    for part in reasoning:
        if part.redacted is not UNSET:
            _warn(warnings, f"redacted reasoning is not supported by {PROVIDER}; it was not sent")
        if part.signature is not UNSET:
            _warn(warnings, f"reasoning signatures are not supported by {PROVIDER}; they were not sent")
        if part.text:
            texts.append(part.text)
    return texts


def to_cohere_assistant_message(message: AssistantMessage, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    reasoning = _reasoning_texts(message.reasoning or [], warnings)
    content = (
        None if message.content is None else to_cohere_text_parts(message.content, "an assistant message")
    )
    if message.tool_calls:
        out["tool_calls"] = to_cohere_tool_calls(message.tool_calls)
        if reasoning:
            out["tool_plan"] = "".join(reasoning)
        if content:
            out["content"] = content
        return out
    if reasoning:
        items = [{"type": "thinking", "thinking": text} for text in reasoning]
        if isinstance(content, str):
            items.append({"type": "text", "text": content})
        elif content:
            items.extend(content)
        out["content"] = items
    else:
        out["content"] = content if content is not None else ""
    return out


def to_cohere_message(message: Message, warnings: list[str]) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": to_cohere_text_parts(message.content, "a system message")}
    if isinstance(message, UserMessage):
        if message.name is not UNSET:
            _warn(warnings, f"message names are not supported by {PROVIDER}; they were not sent")
        return {"role": "user", "content": to_cohere_user_content(message.content)}
    if isinstance(message, AssistantMessage):
        return to_cohere_assistant_message(message, warnings)
    if message.is_error is True:
        _warn(
            warnings, f"is_error on tool results is not supported by {PROVIDER}; the result was sent as text"
        )
    return {
        "role": "tool",
        "tool_call_id": message.tool_call_id,
        "content": to_cohere_text_parts(message.content, "a tool result"),
    }


def to_cohere_messages(messages: list[Message], warnings: list[str]) -> list[dict[str, Any]]:
    return [to_cohere_message(message, warnings) for message in messages]


def to_cohere_tools(tools: list[Tool], warnings: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """The tool list and whether to set `strict_tools` (Cohere's one switch for all tools)."""
    out: list[dict[str, Any]] = []
    strict = [tool.function.strict is True for tool in tools]
    for tool in tools:
        function: dict[str, Any] = {"name": tool.function.name}
        if tool.function.description is not UNSET:
            function["description"] = tool.function.description
        if tool.function.parameters is not UNSET:
            function["parameters"] = tool.function.parameters
        out.append({"type": "function", "function": function})
    if any(strict) and not all(strict):
        _warn(warnings, f"{PROVIDER} applies strict schemas to all tools or none; all tools were sent strict")
    return out, any(strict)


def to_cohere_tool_choice(
    choice: ToolChoice, tools: list[dict[str, Any]], warnings: list[str]
) -> tuple[str | None, list[dict[str, Any]]]:
    """Cohere's `tool_choice` (None: omit it) and the tools to offer with it."""
    if choice == "auto":
        return None, tools
    if choice == "none":
        return "NONE", tools
    if choice == "required":
        return "REQUIRED", tools
    assert isinstance(choice, NamedToolChoice)
    name = choice.function.name
    named = [tool for tool in tools if tool["function"]["name"] == name]
    if not named:
        raise GatewayError(
            Code.INVALID_REQUEST,
            f"tool_choice names {name!r}, which is not among the tools",
            provider=PROVIDER,
        )
    _warn(
        warnings,
        f"{PROVIDER} cannot force a named tool; tool_choice was sent as REQUIRED with only {name!r} offered",
    )
    return "REQUIRED", named


def to_cohere_response_format(response_format: ResponseFormat) -> dict[str, Any]:
    if isinstance(response_format, JsonSchemaFormat):
        return {"type": "json_object", "json_schema": response_format.json_schema.schema}
    if isinstance(response_format, JsonObjectFormat):
        return {"type": "json_object"}
    return {"type": "text"}


def to_cohere_sampling(sampling: Sampling) -> dict[str, Any]:
    """Cohere takes every unified sampling parameter, three under other names."""
    names = {
        "max_tokens": "max_tokens",
        "temperature": "temperature",
        "top_p": "p",
        "top_k": "k",
        "stop": "stop_sequences",
        "seed": "seed",
        "frequency_penalty": "frequency_penalty",
        "presence_penalty": "presence_penalty",
    }
    out: dict[str, Any] = {}
    for unified, cohere in names.items():
        value = getattr(sampling, unified)
        if value is not UNSET:
            out[cohere] = value
    return out


def to_cohere_thinking(reasoning: Reasoning, warnings: list[str]) -> dict[str, Any] | None:
    if reasoning.enabled is False or reasoning.effort == "none":
        return {"type": "disabled"}
    thinking: dict[str, Any] | None = None
    if reasoning.budget_tokens is not UNSET:
        thinking = {"type": "enabled", "token_budget": reasoning.budget_tokens}
    elif reasoning.enabled is True or reasoning.effort is not UNSET:
        thinking = {"type": "enabled"}
    if reasoning.effort is not UNSET:
        _warn(warnings, f"reasoning effort is not supported by {PROVIDER}; thinking was enabled without it")
    if reasoning.summary is not UNSET:
        _warn(warnings, f"a reasoning summary setting is not supported by {PROVIDER}; it was not sent")
    return thinking


def to_cohere_body(request: ChatRequest, model: str, warnings: list[str]) -> dict[str, Any]:
    cache_control_unsent(request, "cohere", warnings)
    body: dict[str, Any] = {"model": model, "messages": to_cohere_messages(request.messages, warnings)}
    body.update(to_cohere_sampling(request.sampling))
    tools: list[dict[str, Any]] = []
    if request.tools is not UNSET and request.tools:
        tools, strict = to_cohere_tools(request.tools, warnings)
        if strict:
            body["strict_tools"] = True
    if request.tool_choice is not UNSET:
        choice, tools = to_cohere_tool_choice(request.tool_choice, tools, warnings)
        if choice is not None:
            body["tool_choice"] = choice
    if tools:
        body["tools"] = tools
    if request.parallel_tool_calls is False:
        _warn(warnings, f"parallel_tool_calls: false is not supported by {PROVIDER}; it was not sent")
    if request.response_format is not UNSET:
        body["response_format"] = to_cohere_response_format(request.response_format)
    if request.reasoning is not UNSET:
        thinking = to_cohere_thinking(request.reasoning, warnings)
        if thinking is not None:
            body["thinking"] = thinking
    body["stream"] = request.stream
    for name, value in own_vendor_extra(request, PROVIDER, warnings).items():
        body.setdefault(name, value)
    for name, value in request.extra.items():
        body.setdefault(name, value)
    return body
