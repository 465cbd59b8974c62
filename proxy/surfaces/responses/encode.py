"""The unified answer → the Responses API's `response` object. Pure. (The stream's events: stream.py.)

Output items, in the order a vendor produces them: `reasoning` (its text as the summary; a
signature as `encrypted_content`, which only a client that asked with
`include: ["reasoning.encrypted_content"]` gets, and the store always keeps), `message` with
one `output_text`, then one `function_call` (or `custom_tool_call`) per tool call.
A finish for length or a content filter makes the response `incomplete`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import UNSET

from proxy.surfaces.responses.reasoning import encrypted_content
from proxy.surfaces.responses.tools import CUSTOM_INPUT, ToolNames
from schemas.chat import ChatResponse, FinishReason, ReasoningPart, ToolCall, Usage
from schemas.responses_surface import (
    IncompleteDetails,
    InputTokensDetails,
    OutputCustomToolCall,
    OutputFunctionCall,
    OutputItem,
    OutputMessage,
    OutputReasoning,
    OutputText,
    OutputTokensDetails,
    ReasoningEcho,
    ResponseError,
    ResponseObject,
    ResponsesBody,
    ResponseUsage,
    SummaryText,
    TextConfig,
    TextFormatConfig,
)

_encode = msgspec.json.Encoder().encode
ENCRYPTED_CONTENT = "reasoning.encrypted_content"


@dataclass
class ResponseMeta:
    """What the response object echoes of the request, and where it came from."""

    id: str
    model: str
    body: ResponsesBody
    tools: ToolNames
    fields: dict[str, Any] = field(default_factory=dict)
    """The body as the client sent it (what an OpenAI passthrough echoes)."""
    created_at: int = field(default_factory=lambda: int(time.time()))


def response_usage(usage: Usage, cost: float | None) -> ResponseUsage:
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    written = usage.cache_write_input_tokens if usage.cache_write_input_tokens is not UNSET else 0
    reasoning = usage.reasoning_tokens if usage.reasoning_tokens is not UNSET else 0
    return ResponseUsage(
        input_tokens=usage.input_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached, cache_write_tokens=written),
        output_tokens=usage.output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
        total_tokens=usage.input_tokens + usage.output_tokens,
        cost=cost,
    )


def status_of(reason: FinishReason) -> tuple[str, IncompleteDetails | None]:
    if reason == "length":
        return "incomplete", IncompleteDetails("max_output_tokens")
    if reason == "content_filter":
        return "incomplete", IncompleteDetails("content_filter")
    return "completed", None


def response_object(
    meta: ResponseMeta,
    output: list[OutputItem],
    status: str,
    usage: ResponseUsage | None = None,
    incomplete: IncompleteDetails | None = None,
    error: ResponseError | None = None,
) -> ResponseObject:
    body = meta.body
    reasoning = body.reasoning
    text = body.text if body.text is not None else TextConfig()
    if text.format is None:
        text = TextConfig(format=TextFormatConfig("text"), verbosity=text.verbosity)
    return ResponseObject(
        id=meta.id,
        created_at=meta.created_at,
        model=meta.model,
        status=status,
        output=output,
        tools=body.tools or [],
        tool_choice=body.tool_choice if body.tool_choice is not None else "auto",
        parallel_tool_calls=body.parallel_tool_calls if body.parallel_tool_calls is not None else True,
        error=error,
        incomplete_details=incomplete,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        metadata=body.metadata or {},
        previous_response_id=body.previous_response_id,
        reasoning=ReasoningEcho(reasoning.effort, reasoning.summary) if reasoning else ReasoningEcho(),
        store=body.store is not False,
        temperature=body.temperature,
        top_p=body.top_p,
        text=text,
        usage=usage,
        user=body.user,
        prompt_cache_key=body.prompt_cache_key,
        completed_at=int(time.time()) if status in ("completed", "incomplete") else None,
    )


def reasoning_item(item_id: str, parts: list[ReasoningPart], provider: str) -> OutputReasoning:
    text = "".join(part.text for part in parts)
    item = OutputReasoning(id=item_id, summary=[SummaryText(text)] if text else [])
    for part in parts:
        content = encrypted_content(provider, part)
        if content is not None:
            item.encrypted_content = content
    return item


def call_item(item_id: str, call: ToolCall, names: ToolNames) -> OutputFunctionCall | OutputCustomToolCall:
    declared = names.of(call.function.name)
    if declared.kind == "custom":
        try:
            value = msgspec.json.decode(call.function.arguments or "{}")
        except msgspec.DecodeError:
            value = {}
        text = value.get(CUSTOM_INPUT) if isinstance(value, dict) else None
        item_input = text if isinstance(text, str) else call.function.arguments
        custom = OutputCustomToolCall(id=item_id, call_id=call.id, name=declared.name, input=item_input)
        if declared.namespace:
            custom.namespace = declared.namespace
        return custom
    function = OutputFunctionCall(
        id=item_id, call_id=call.id, name=declared.name, arguments=call.function.arguments
    )
    if declared.namespace:
        function.namespace = declared.namespace
    return function


def output_items(response: ChatResponse, meta: ResponseMeta, provider: str) -> list[OutputItem]:
    output: list[OutputItem] = []
    if isinstance(response.reasoning, list) and response.reasoning:
        output.append(reasoning_item(f"rs_{meta.id}", response.reasoning, provider))
    if response.content:
        output.append(OutputMessage(id=f"msg_{meta.id}", content=[OutputText(response.content)]))
    for index, call in enumerate(response.tool_calls or ()):
        output.append(call_item(f"fc_{meta.id}_{index}", call, meta.tools))
    return output


def to_response(
    response: ChatResponse, cost: float | None, meta: ResponseMeta, provider: str
) -> ResponseObject:
    status, incomplete = status_of(response.finish_reason)
    return response_object(
        meta,
        output_items(response, meta, provider),
        status,
        response_usage(response.usage, cost),
        incomplete,
    )


def client_view(response: dict[str, Any], include: list[str] | None) -> dict[str, Any]:
    """A response object (ours or OpenAI's, as stored) as the client sees it: signatures only
    when `include` asked; the store keeps them."""
    view = {**response, "output": [dict(item) for item in response.get("output") or []]}
    if include is None or ENCRYPTED_CONTENT not in include:
        for item in view["output"]:
            item.pop("encrypted_content", None)
    return view


def for_client(response: ResponseObject, include: list[str] | None) -> dict[str, Any]:
    return client_view(msgspec.to_builtins(response), include)


def client_bytes(response: ResponseObject, include: list[str] | None) -> bytes:
    return _encode(for_client(response, include))
