"""ChatRequest → a Gemini `generateContent` body, in the REST API's own camelCase. Pure.

The body is built here and sent as bytes: the SDK's pydantic request types and converters
are skipped (see `adapters/gemini/__init__.py`), so what is written here is what Gemini gets.

- `reasoning` becomes `generationConfig.thinkingConfig`: a budget `thinkingBudget` (-1, the
  model decides, for thinking on without one; 0 for off), an effort `thinkingLevel` (Gemini 3;
  a budget wins when both are set, since Gemini refuses the pair), `summary` `includeThoughts`.
- Gemini cannot turn parallel tool calls off: `parallel_tool_calls: false` is reported.
- `vendor_extra["gemini"]` travels; every other vendor's is reported.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from adapters.gemini.messages import to_gemini_contents, to_gemini_system_instruction
from adapters.vendor_extra import own_vendor_extra
from schemas.chat import (
    ChatRequest,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    Reasoning,
    ResponseFormat,
    Sampling,
    Tool,
    ToolChoice,
    cache_control_unsent,
)

_SAMPLING_FIELDS = (
    ("max_tokens", "maxOutputTokens"),
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("stop", "stopSequences"),
    ("seed", "seed"),
    ("frequency_penalty", "frequencyPenalty"),
    ("presence_penalty", "presencePenalty"),
)
"""Gemini takes every unified sampling parameter, so none is ever reported as dropped."""


def to_gemini_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """OpenAI-shaped tools → one `functionDeclarations` tool; `parametersJsonSchema` takes
    plain JSON Schema, where the older `parameters` wanted Gemini's OpenAPI subset."""
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        function = tool.function
        declaration: dict[str, Any] = {"name": function.name}
        if function.description is not UNSET:
            declaration["description"] = function.description
        if function.parameters is not UNSET and function.parameters:
            declaration["parametersJsonSchema"] = function.parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def to_gemini_tool_config(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        config: dict[str, Any] = {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}
    else:
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    return {"functionCallingConfig": config}


def to_gemini_generation_config(sampling: Sampling, response_format: ResponseFormat | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for unified, gemini in _SAMPLING_FIELDS:
        value = getattr(sampling, unified)
        if value is not UNSET:
            config[gemini] = value
    if isinstance(response_format, JsonObjectFormat):
        config["responseMimeType"] = "application/json"
    elif isinstance(response_format, JsonSchemaFormat):
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = response_format.json_schema.schema
    return config


_LEVELS = {
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "HIGH",
    "max": "HIGH",
}
"""Unified efforts → Gemini 3's `thinkingLevel`; xhigh and max are sent as HIGH, the highest
level every Gemini 3 model takes."""


def to_gemini_thinking_config(reasoning: Reasoning, warnings: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if reasoning.enabled is False or reasoning.effort == "none":
        config["thinkingBudget"] = 0
    elif reasoning.budget_tokens is not UNSET:
        config["thinkingBudget"] = reasoning.budget_tokens
        if reasoning.effort is not UNSET:
            _warn(warnings, "gemini takes a thinking budget or a level, not both; the budget was sent")
    elif reasoning.effort is not UNSET:
        config["thinkingLevel"] = _LEVELS[reasoning.effort]
    elif reasoning.enabled is True:
        config["thinkingBudget"] = -1
    if reasoning.summary is not UNSET and config.get("thinkingBudget") != 0:
        config["includeThoughts"] = reasoning.summary != "none"
    return config


def _warn(warnings: list[str], sentence: str) -> None:
    if sentence not in warnings:
        warnings.append(sentence)


def _merge_extra(body: dict[str, Any], extra: dict[str, Any]) -> None:
    """Extras go in verbatim; inside an object both sides set (`generationConfig` carrying a
    `thinkingConfig`), the extra's keys are added and the unified ones still win."""
    for name, value in extra.items():
        current = body.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            body[name] = {**value, **current}
        else:
            body.setdefault(name, value)


def to_gemini_body(request: ChatRequest, warnings: list[str]) -> dict[str, Any]:
    cache_control_unsent(request, "gemini", warnings)
    body: dict[str, Any] = {"contents": to_gemini_contents(request.messages, warnings)}
    system = to_gemini_system_instruction(request.messages)
    if system is not None:
        body["systemInstruction"] = system
    if request.tools is not UNSET and request.tools:
        body["tools"] = to_gemini_tools(request.tools)
    if request.tool_choice is not UNSET:
        body["toolConfig"] = to_gemini_tool_config(request.tool_choice)
    if request.parallel_tool_calls is False:
        _warn(warnings, "parallel_tool_calls: false is not supported by gemini; it was not sent")
    response_format = request.response_format if request.response_format is not UNSET else None
    generation = to_gemini_generation_config(request.sampling, response_format)
    if request.reasoning is not UNSET:
        thinking = to_gemini_thinking_config(request.reasoning, warnings)
        if thinking:
            generation["thinkingConfig"] = thinking
    if generation:
        body["generationConfig"] = generation
    _merge_extra(body, own_vendor_extra(request, "gemini", warnings))
    _merge_extra(body, request.extra)
    return body
