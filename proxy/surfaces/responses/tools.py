"""Responses tools → unified function tools, and the model's calls back to what the client declared.

Function tools map one to one; a `custom` (free-form) tool becomes a function with one
string parameter `input`; a `namespace` tool's functions are offered as `<namespace>__<name>`,
and `ToolNames` turns the model's calls back into the item kind and names the client
declared. Built-in tools (web search, file search, code interpreter, computer use, ...)
exist only at OpenAI: offered to another backend they are dropped with a warning; forced by
`tool_choice`, a 400 names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from proxy.surfaces.intake import invalid
from schemas.chat import (
    FunctionDefinition,
    NamedFunction,
    NamedToolChoice,
    Tool,
    ToolChoice,
)
from schemas.errors import Code, GatewayError
from schemas.responses_surface import (
    BUILT_IN_TOOLS,
    CustomTool,
    FunctionTool,
    NamespaceTool,
    ToolIn,
)

NAMESPACE_SEPARATOR = "__"
CUSTOM_INPUT = "input"
_tool_decoder = msgspec.json.Decoder(ToolIn)
_encode = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class DeclaredTool:
    kind: str
    """`function` or `custom`: which call item the model's call becomes."""
    name: str
    namespace: str | None = None


@dataclass
class ToolNames:
    """Upstream function name → the tool the client declared."""

    declared: dict[str, DeclaredTool] = field(default_factory=dict)

    def upstream(self, name: str, namespace: str | None = None) -> str:
        return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name

    def of(self, upstream_name: str) -> DeclaredTool:
        return self.declared.get(upstream_name) or DeclaredTool("function", upstream_name)


def _function(tool: FunctionTool | CustomTool, upstream_name: str) -> Tool:
    if isinstance(tool, CustomTool):
        description = tool.description or ""
        parameters: dict[str, Any] = {
            "type": "object",
            "properties": {CUSTOM_INPUT: {"type": "string", "description": "The tool's free-form input"}},
            "required": [CUSTOM_INPUT],
        }
        return Tool(FunctionDefinition(upstream_name, description=description, parameters=parameters))
    definition = FunctionDefinition(upstream_name)
    if tool.description is not None:
        definition.description = tool.description
    definition.parameters = tool.parameters if tool.parameters is not None else {"type": "object"}
    if tool.strict is not None:
        definition.strict = tool.strict
    return Tool(definition)


def to_tools(raw: list[dict[str, Any]], warnings: list[str]) -> tuple[list[Tool], ToolNames]:
    tools: list[Tool] = []
    names = ToolNames()
    for index, entry in enumerate(raw):
        kind = entry.get("type")
        if kind in BUILT_IN_TOOLS:
            # said only when the translation serves the call: OpenAI's own /responses takes them all
            warnings.append(f"the built-in {kind} tool is served only by OpenAI; it was not sent")
            continue
        if kind not in ("function", "custom", "namespace"):
            raise invalid(f"tools[{index}]: unknown tool type {kind!r}")
        try:
            tool = _tool_decoder.decode(_encode(entry))
        except msgspec.ValidationError as error:
            raise invalid(f"tools[{index}]: {error}") from None
        members: list[tuple[FunctionTool | CustomTool, str | None]]
        if isinstance(tool, NamespaceTool):
            members = [(member, tool.name) for member in tool.tools]
        else:
            members = [(tool, None)]
        for member, namespace in members:
            upstream = names.upstream(member.name, namespace)
            kind_name = "custom" if isinstance(member, CustomTool) else "function"
            names.declared[upstream] = DeclaredTool(kind_name, member.name, namespace)
            tools.append(_function(member, upstream))
    return tools, names


def to_tool_choice(raw: str | dict[str, Any], names: ToolNames, native_built_ins: bool = False) -> ToolChoice:
    if isinstance(raw, str):
        if raw not in ("auto", "none", "required"):
            raise invalid(f"tool_choice must be auto, none, required or a tool, not {raw!r}")
        return raw  # type: ignore[return-value]
    kind = raw.get("type")
    if kind in ("function", "custom") and isinstance(raw.get("name"), str):
        upstream = names.upstream(raw["name"], raw.get("namespace"))
        if upstream not in names.declared:
            raise invalid(f"tool_choice names {raw['name']!r}, which is not among the tools")
        return NamedToolChoice(NamedFunction(upstream))
    if kind == "allowed_tools":
        return "required" if raw.get("mode") == "required" else "auto"
    if kind in BUILT_IN_TOOLS:
        if native_built_ins:
            return "auto"
        raise GatewayError(
            Code.UNSUPPORTED, f"tool_choice forces the built-in {kind} tool, which this model's backend lacks"
        )
    raise invalid(f"tool_choice: unknown type {kind!r}")
