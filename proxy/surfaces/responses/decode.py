"""A Responses API body (plus the stored conversation it continues) → the unified ChatRequest. Pure.

Items become messages the way a Chat Completions client would have written them: one
assistant turn gathers the `reasoning`, `message` and `function_call` items the model
produced together, a `function_call_output` becomes a tool message. Function tools map
one to one; a `custom` (free-form) tool becomes a function with one string parameter
`input`; a `namespace` tool's functions are offered as `<namespace>__<name>`, and `ToolNames`
turns the model's calls back into the item kind and names the client declared. Built-in
tools (web search, file search, code interpreter, computer use, ...) exist only at OpenAI:
offered, they are dropped with a warning; forced by `tool_choice`, a 400 names them.

`reasoning.effort` becomes each vendor's thinking switch in `reasoning_extra`, the one
place to change once the unified schema has its own field.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import msgspec

from proxy.surfaces.intake import invalid
from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    ContentPart,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    JsonObjectFormat,
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
from schemas.responses_surface import (
    BUILT_IN_CALL_ITEMS,
    BUILT_IN_TOOLS,
    INPUT_ITEM_TYPES,
    CustomTool,
    CustomToolCallItem,
    CustomToolCallOutputItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputContent,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    ItemReference,
    MessageItem,
    NamespaceTool,
    OutputText,
    ReasoningItem,
    Refusal,
    ResponsesBody,
    ToolIn,
)

NAMESPACE_SEPARATOR = "__"
CUSTOM_INPUT = "input"
_SIGNATURE_PREFIX = "ug1."


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


@dataclass
class Decoded:
    chat: ChatRequest
    tools: ToolNames
    items: list[dict[str, Any]]
    """The conversation's input items as stored: the earlier turns', then this request's."""
    warnings: list[str]


_item_decoder = msgspec.json.Decoder(InputItem)
_tool_decoder = msgspec.json.Decoder(ToolIn)
_encode = msgspec.json.encode


# -- reasoning signatures ---------------------------------------------------------------------


class _Signature(msgspec.Struct, omit_defaults=True):
    p: str
    s: str | None = None
    r: str | None = None


def encrypted_content(provider: str, part: ReasoningPart) -> str | None:
    """A reasoning part's signature as the opaque `encrypted_content`, marked with the vendor
    that made it, so a later turn gives it back only to a vendor that can verify it."""
    signature = part.signature if isinstance(part.signature, str) else None
    redacted = part.redacted if isinstance(part.redacted, str) else None
    if signature is None and redacted is None:
        return None
    packed = _encode(_Signature(provider, signature, redacted))
    return _SIGNATURE_PREFIX + base64.urlsafe_b64encode(packed).decode()


def reasoning_part(item: ReasoningItem, provider: str | None, warnings: list[str]) -> ReasoningPart:
    text = "\n\n".join(part.text for part in item.summary)
    if item.content:
        text = "\n\n".join(part.text for part in item.content)
    part = ReasoningPart(text=text)
    content = item.encrypted_content
    if not isinstance(content, str) or not content.startswith(_SIGNATURE_PREFIX):
        return part
    try:
        signature = msgspec.json.decode(
            base64.urlsafe_b64decode(content.removeprefix(_SIGNATURE_PREFIX)), type=_Signature
        )
    except (ValueError, msgspec.DecodeError):
        raise invalid("a reasoning item's encrypted_content is not one unigate produced") from None
    if signature.p != provider:
        note = f"reasoning signed by {signature.p} cannot be verified by {provider}; its text was kept"
        if note not in warnings:
            warnings.append(note)
        return part
    if signature.s is not None:
        part.signature = signature.s
    if signature.r is not None:
        part.redacted = signature.r
    return part


def reasoning_extra(effort: str | None, summary: str | None, provider: str | None) -> dict[str, Any]:
    """`reasoning.effort` as the route's first vendor's own thinking parameter."""
    if effort is None or effort == "none":
        return {}
    budgets = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}
    budget = budgets.get(effort, 8192)
    if provider == "anthropic":
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}
    if provider == "gemini":
        config = {"thinkingBudget": budget, "includeThoughts": summary not in (None, "none")}
        return {"generationConfig": {"thinkingConfig": config}}
    if provider == "openai":
        return {"reasoning_effort": "minimal" if effort == "minimal" else effort}
    return {}


# -- tools --------------------------------------------------------------------------------------


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


def to_tools(
    raw: list[dict[str, Any]], provider: str | None, warnings: list[str]
) -> tuple[list[Tool], ToolNames]:
    tools: list[Tool] = []
    names = ToolNames()
    for index, entry in enumerate(raw):
        kind = entry.get("type")
        if kind in BUILT_IN_TOOLS:
            warnings.append(
                f"the built-in {kind} tool is not available for {provider or 'a worker pool'}; not sent"
            )
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


def to_tool_choice(raw: str | dict[str, Any], names: ToolNames) -> ToolChoice:
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
        raise GatewayError(
            Code.UNSUPPORTED, f"tool_choice forces the built-in {kind} tool, which this model's backend lacks"
        )
    raise invalid(f"tool_choice: unknown type {kind!r}")


# -- items ---------------------------------------------------------------------------------------


def _data_text(data_url: str, filename: str | None, where: str) -> str:
    header, _, payload = data_url.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise invalid(f"{where}: file_data must be a base64 data URL")
    media_type = header.removeprefix("data:").split(";")[0]
    if not (media_type.startswith("text/") or media_type in ("application/json", "application/xml")):
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{where}: input_file of type {media_type or 'unknown'} is not supported; send text",
        )
    try:
        text = base64.b64decode(payload, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"{where}: file_data is not base64 UTF-8 text") from None
    return f"<file name={filename!r}>\n{text}\n</file>" if filename else text


def _part(part: InputContent, where: str) -> ContentPart:
    if isinstance(part, InputText | OutputText):
        return TextPart(text=part.text)
    if isinstance(part, Refusal):
        return TextPart(text=part.refusal)
    if isinstance(part, InputImage):
        url = part.image_url
        if url is None:
            raise GatewayError(Code.UNSUPPORTED, f"{where}: file_id images are not supported; send image_url")
        detail = part.detail if part.detail is not None else msgspec.UNSET
        if url.startswith("data:"):
            return ImagePart(base64=url, detail=detail)
        if not url.startswith(("http://", "https://")):
            raise invalid(f"{where}: image_url must be http(s) or a data URL")
        return ImagePart(url=url, detail=detail)
    assert isinstance(part, InputFile)
    if part.file_data is None:
        raise GatewayError(
            Code.UNSUPPORTED, f"{where}: input_file needs file_data (file ids and URLs are not supported)"
        )
    return TextPart(text=_data_text(part.file_data, part.filename, where))


def _content(content: str | list[InputContent], where: str) -> str | list[ContentPart]:
    if isinstance(content, str):
        return content
    return [_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]


def _text_of(content: str | list[ContentPart]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def parse_items(raw: list[dict[str, Any]], warnings: list[str]) -> list[InputItem]:
    """Each item typed; a message without `type` (the SDKs' easy form) is a message."""
    items: list[InputItem] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise invalid(f"input[{index}] must be an object")
        kind = entry.get("type", "message" if "role" in entry else None)
        if kind in BUILT_IN_CALL_ITEMS:
            note = f"{kind} items are only understood by OpenAI; they were left out"
            if note not in warnings:
                warnings.append(note)
            continue
        if kind not in INPUT_ITEM_TYPES:
            raise invalid(f"input[{index}]: unknown item type {kind!r}")
        try:
            items.append(_item_decoder.decode(_encode({**entry, "type": kind})))
        except msgspec.ValidationError as error:
            raise invalid(f"input[{index}]: {error}") from None
    return items


class _Conversation:
    """Folds items into messages: an assistant turn stays open until a user, system or tool
    message closes it."""

    def __init__(self, provider: str | None, warnings: list[str], names: ToolNames) -> None:
        self.messages: list[Message] = []
        self.calls: set[str] = set()
        self._turn: AssistantMessage | None = None
        self._provider = provider
        self._warnings = warnings
        self._names = names

    def _assistant(self) -> AssistantMessage:
        if self._turn is None:
            self._turn = AssistantMessage(content=None)
            self.messages.append(self._turn)
        return self._turn

    def _close(self) -> None:
        self._turn = None

    def _call(self, call_id: str, name: str, arguments: str) -> None:
        turn = self._assistant()
        calls = turn.tool_calls if isinstance(turn.tool_calls, list) else []
        calls.append(ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments)))
        turn.tool_calls = calls
        self.calls.add(call_id)

    def add(self, item: InputItem, where: str) -> None:
        if isinstance(item, MessageItem):
            content = _content(item.content, where)
            if item.role == "assistant":
                turn = self._assistant()
                if isinstance(turn.tool_calls, list):
                    self._close()
                    turn = self._assistant()
                text = _text_of(content)
                turn.content = (turn.content or "") + text if isinstance(turn.content, str) else text
                return
            self._close()
            if item.role in ("system", "developer"):
                self.messages.append(SystemMessage(content=content))
            else:
                self.messages.append(UserMessage(content=content))
        elif isinstance(item, ReasoningItem):
            open_turn = self._turn
            if open_turn is not None and (
                open_turn.content is not None or isinstance(open_turn.tool_calls, list)
            ):
                self._close()
            turn = self._assistant()
            parts = turn.reasoning if isinstance(turn.reasoning, list) else []
            parts.append(reasoning_part(item, self._provider, self._warnings))
            turn.reasoning = parts
        elif isinstance(item, FunctionCallItem):
            namespace = item.namespace
            self._call(item.call_id, self._names.upstream(item.name, namespace), item.arguments)
        elif isinstance(item, CustomToolCallItem):
            namespace = item.namespace
            arguments = _encode({CUSTOM_INPUT: item.input}).decode()
            self._call(item.call_id, self._names.upstream(item.name, namespace), arguments)
        elif isinstance(item, FunctionCallOutputItem | CustomToolCallOutputItem):
            if item.call_id not in self.calls:
                raise invalid(
                    f"{where}: the output for call_id {item.call_id!r} has no function_call before it"
                )
            self._close()
            self.messages.append(ToolMessage(tool_call_id=item.call_id, content=_content(item.output, where)))
        else:
            raise invalid(f"{where}: item_reference {item.id!r} does not name an item of this conversation")


def _resolve_references(items: list[InputItem], earlier: list[InputItem]) -> list[InputItem]:
    known = {
        item.id: item for item in earlier if not isinstance(item, ItemReference) and isinstance(item.id, str)
    }
    resolved: list[InputItem] = []
    for item in items:
        if isinstance(item, ItemReference):
            target = known.get(item.id)
            if target is None:
                raise invalid(f"item_reference {item.id!r} does not name an item of this conversation")
            resolved.append(target)
        else:
            resolved.append(item)
    return resolved


def to_chat_request(body: ResponsesBody, provider: str | None, earlier: list[dict[str, Any]]) -> Decoded:
    """`earlier`: the stored items (input and output) of the conversation `previous_response_id` continues."""
    warnings: list[str] = []
    raw_input: list[dict[str, Any]]
    if body.input is None:
        raw_input = []
    elif isinstance(body.input, str):
        raw_input = [{"type": "message", "role": "user", "content": body.input}]
    else:
        raw_input = body.input
    history = parse_items(earlier, warnings)
    new = _resolve_references(parse_items(raw_input, warnings), history)
    if not new and not history:
        raise invalid("input must not be empty")
    tools, names = to_tools(body.tools or [], provider, warnings)
    conversation = _Conversation(provider, warnings, names)
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
    reasoning = body.reasoning
    extra = reasoning_extra(
        reasoning.effort if reasoning else None,
        (reasoning.summary or reasoning.generate_summary) if reasoning else None,
        provider,
    )
    if reasoning and reasoning.effort not in (None, "none") and not extra:
        warnings.append(
            f"reasoning.effort is not supported by {provider or 'a worker pool'}; it was not sent"
        )
    chat = ChatRequest(
        model=body.model,
        messages=conversation.messages,
        stream=bool(body.stream),
        sampling=sampling,
        extra=extra,
    )
    if tools:
        chat.tools = tools
    if body.tool_choice is not None:
        choice = to_tool_choice(body.tool_choice, names)
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
