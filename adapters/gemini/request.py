"""ChatRequest → a Gemini `generateContent` body, in the REST API's own camelCase. Pure.

The body is built here and sent as bytes: the SDK's pydantic request types and converters
are skipped (see `adapters/gemini/__init__.py`), so what is written here is what Gemini gets.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from adapters.gemini.messages import to_gemini_contents, to_gemini_system_instruction
from schemas.chat import (
    ChatRequest,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
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
    response_format = request.response_format if request.response_format is not UNSET else None
    generation = to_gemini_generation_config(request.sampling, response_format)
    if generation:
        body["generationConfig"] = generation
    if request.extra:
        _merge_extra(body, request.extra)
    return body
