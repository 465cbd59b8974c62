"""Responses input items → unified messages, the way a Chat Completions client would have
written them: one assistant turn gathers the `reasoning`, `message` and `function_call`
items the model produced together; a `function_call_output` becomes a tool message and
needs its call earlier in the conversation; an `item_reference` names an earlier item.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from proxy.surfaces.intake import invalid
from proxy.surfaces.responses.reasoning import reasoning_part
from proxy.surfaces.responses.tools import CUSTOM_INPUT, ToolNames
from schemas.chat import (
    AssistantMessage,
    ContentPart,
    DocumentPart,
    FunctionCall,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from schemas.errors import Code, GatewayError
from schemas.responses_surface import (
    BUILT_IN_CALL_ITEMS,
    INPUT_ITEM_TYPES,
    CustomToolCallItem,
    CustomToolCallOutputItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputContent,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    ItemReference,
    MessageItem,
    OutputText,
    ReasoningItem,
    Refusal,
)

_item_decoder = msgspec.json.Decoder(InputItem)
_encode = msgspec.json.encode


_TEXT_TYPES = ("application/json", "application/xml")
_DOCUMENT_TYPES = ("application/pdf",)


def _file(part: InputFile, where: str) -> ContentPart:
    """`file_data`: a text file as text (named, when it has a name), a PDF as a document,
    which each vendor's adapter sends its own way (Anthropic `document`, Gemini inline data,
    OpenAI `file`) or refuses with a 400 naming it. `file_url`: a document by URL."""
    title = part.filename.rsplit(".", 1)[0] if part.filename else msgspec.UNSET
    if part.file_data is None:
        assert part.file_url is not None
        if not part.file_url.startswith(("http://", "https://")):
            raise invalid(f"{where}: file_url must be http(s)")
        return DocumentPart(url=part.file_url, title=title)
    header, _, payload = part.file_data.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise invalid(f"{where}: file_data must be a base64 data URL")
    media_type = header.removeprefix("data:").split(";")[0]
    if media_type in _DOCUMENT_TYPES:
        return DocumentPart(base64=part.file_data, title=title)
    if not (media_type.startswith("text/") or media_type in _TEXT_TYPES):
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{where}: input_file of type {media_type or 'unknown'} is not supported; send a PDF or text",
        )
    try:
        text = base64.b64decode(payload, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"{where}: file_data is not base64 UTF-8 text") from None
    return TextPart(text=f"<file name={part.filename!r}>\n{text}\n</file>" if part.filename else text)


def _by_file_id(kind: str, where: str, native: bool, warnings: list[str]) -> None:
    """A file id names a file uploaded to OpenAI: only OpenAI's own `/responses` can read it.
    `native`: it may serve the call, so a fallback's translation goes without, and says so."""
    if not native:
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{where}: {kind} by file_id is read only by OpenAI; send it inline (file_data / a data URL)",
        )
    note = f"{kind} by file_id reaches OpenAI only; it was left out"
    if note not in warnings:
        warnings.append(note)


def _part(part: InputContent, where: str, native: bool, warnings: list[str]) -> ContentPart | None:
    if isinstance(part, InputText | OutputText):
        return TextPart(text=part.text)
    if isinstance(part, Refusal):
        return TextPart(text=part.refusal)
    if isinstance(part, InputImage):
        url = part.image_url
        if url is None:
            if part.file_id is None:
                raise invalid(f"{where}: input_image needs image_url or file_id")
            _by_file_id("input_image", where, native, warnings)
            return None
        detail = part.detail if part.detail is not None else msgspec.UNSET
        if url.startswith("data:"):
            return ImagePart(base64=url, detail=detail)
        if not url.startswith(("http://", "https://")):
            raise invalid(f"{where}: image_url must be http(s) or a data URL")
        return ImagePart(url=url, detail=detail)
    assert isinstance(part, InputFile)
    if part.file_data is None and part.file_url is None:
        if part.file_id is None:
            raise invalid(f"{where}: input_file needs file_data, file_url or file_id")
        _by_file_id("input_file", where, native, warnings)
        return None
    return _file(part, where)


def _content(
    content: str | list[InputContent], where: str, native: bool, warnings: list[str]
) -> str | list[ContentPart]:
    if isinstance(content, str):
        return content
    parts = [_part(part, f"{where}.content[{i}]", native, warnings) for i, part in enumerate(content)]
    return [part for part in parts if part is not None]


def _text_of(content: str | list[ContentPart]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def parse_items(raw: list[dict[str, Any]], warnings: list[str], stored: bool = False) -> list[InputItem]:
    """Each item typed; a message without `type` (the SDKs' easy form) is a message. In a
    `stored` conversation (which OpenAI's own answers may have filled with item kinds only
    it knows) an unknown item is left out with a warning: it is no mistake of the caller's."""
    items: list[InputItem] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise invalid(f"input[{index}] must be an object")
        kind = entry.get("type", "message" if "role" in entry else None)
        if kind in BUILT_IN_CALL_ITEMS or (stored and kind not in INPUT_ITEM_TYPES):
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


class Conversation:
    """Folds items into messages: an assistant turn stays open until a user, system or tool
    message closes it."""

    def __init__(
        self, provider: str | None, warnings: list[str], names: ToolNames, native: bool = False
    ) -> None:
        self.messages: list[Message] = []
        self.calls: set[str] = set()
        self._turn: AssistantMessage | None = None
        self._provider = provider
        self._warnings = warnings
        self._names = names
        self._native = native
        """OpenAI's own `/responses` may serve the call (what only it reads is no error)."""

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
            content = _content(item.content, where, self._native, self._warnings)
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
            self.messages.append(
                ToolMessage(
                    tool_call_id=item.call_id,
                    content=_content(item.output, where, self._native, self._warnings),
                )
            )
        else:
            raise invalid(f"{where}: item_reference {item.id!r} does not name an item of this conversation")


def resolve_references(items: list[InputItem], earlier: list[InputItem]) -> list[InputItem]:
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
