"""A Responses API body (plus the stored conversation it continues) → the unified ChatRequest. Pure.

The pieces live by concern: items.py (input items → messages), tools.py (tools and
`tool_choice`), reasoning.py (signatures across turns, `reasoning` as the unified field); this module
puts them together with the sampling and `text.format` fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from proxy.surfaces.intake import invalid
from proxy.surfaces.responses.items import Conversation, parse_items, resolve_references
from proxy.surfaces.responses.reasoning import to_reasoning
from proxy.surfaces.responses.tools import ToolNames, to_tool_choice, to_tools
from schemas.chat import (
    ChatRequest,
    JsonObjectFormat,
    JsonSchema,
    JsonSchemaFormat,
    Sampling,
    SystemMessage,
)
from schemas.responses_surface import (
    ResponsesBody,
)


@dataclass
class Decoded:
    chat: ChatRequest
    tools: ToolNames
    items: list[dict[str, Any]]
    """The conversation's input items as stored: the earlier turns', then this request's."""
    warnings: list[str]


def to_chat_request(
    body: ResponsesBody, provider: str | None, earlier: list[dict[str, Any]], native_built_ins: bool = False
) -> Decoded:
    """`earlier`: the stored items (input and output) of the conversation `previous_response_id`
    continues. `native_built_ins`: OpenAI's own `/responses` may serve the call, so a
    `tool_choice` forcing a built-in tool is no error (the translation then leaves it out)."""
    warnings: list[str] = []
    raw_input: list[dict[str, Any]]
    if body.input is None:
        raw_input = []
    elif isinstance(body.input, str):
        raw_input = [{"type": "message", "role": "user", "content": body.input}]
    else:
        raw_input = body.input
    history = parse_items(earlier, warnings, stored=True)
    new = resolve_references(parse_items(raw_input, warnings), history)
    if not new and not history:
        raise invalid("input must not be empty")
    tools, names = to_tools(body.tools or [], warnings)
    conversation = Conversation(provider, warnings, names, native_built_ins)
    if body.instructions:
        conversation.messages.append(SystemMessage(content=body.instructions))
    for index, item in enumerate(history):
        conversation.add(item, f"previous_response_id item {index}")
    for index, item in enumerate(new):
        conversation.add(item, f"input[{index}]")
    sampling = Sampling()
    if body.max_output_tokens is not None:
        sampling.max_tokens = body.max_output_tokens
    if body.temperature is not None:
        sampling.temperature = body.temperature
    if body.top_p is not None:
        sampling.top_p = body.top_p
    chat = ChatRequest(
        model=body.model, messages=conversation.messages, stream=bool(body.stream), sampling=sampling
    )
    if body.reasoning is not None:
        chat.reasoning = to_reasoning(body.reasoning)
    if body.parallel_tool_calls is not None:
        chat.parallel_tool_calls = body.parallel_tool_calls
    if tools:
        chat.tools = tools
    if body.tool_choice is not None:
        choice = to_tool_choice(body.tool_choice, names, native_built_ins)
        if tools or choice == "none":
            chat.tool_choice = choice
    text_format = body.text.format if body.text is not None else None
    if text_format is not None and text_format.type == "json_object":
        chat.response_format = JsonObjectFormat()
    elif text_format is not None and text_format.type == "json_schema":
        if text_format.schema is None:
            raise invalid("text.format json_schema needs a schema")
        schema = JsonSchema(name=text_format.name or "response", schema=text_format.schema)
        if text_format.description is not None:
            schema.description = text_format.description
        if text_format.strict is not None:
            schema.strict = text_format.strict
        chat.response_format = JsonSchemaFormat(schema)
    stored_new = [msgspec.to_builtins(item) for item in new]
    return Decoded(chat, names, [*earlier, *stored_new], warnings)
