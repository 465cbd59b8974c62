"""Unified messages → Gemini `systemInstruction` and `contents`. Pure.

Gemini differs from the OpenAI shape in four ways that matter here: system prompts live
outside the turns; the assistant is `model`; a tool result is a `functionResponse` part in
a `user` turn and names the function it answers (found through the earlier call's id); and
the `thoughtSignature` Gemini put on a part must come back on the same kind of part.

Thought signatures travel in `AssistantMessage.reasoning` (see `from_gemini_parts`):
a ReasoningPart with text is a `thought: true` part and keeps its own signature; a
signature-only ReasoningPart is a signature Gemini put on a content part. Re-attaching them:
the last signature-only parts go to the turn's functionCall parts in order (Gemini signs the
first call of a step, so one signature lands on the first call); one left over goes to the
turn's last text part. A turn with calls but no signature-only part had its call's signature
folded into a thinking block by a stream consumer: the last thought signature moves to the
first call, since a call without its signature fails with MISSING_THOUGHT_SIGNATURE.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from adapters.gemini.media import to_gemini_file_data, to_gemini_inline_data
from adapters.gemini.tool_ids import gemini_call_id
from schemas.chat import (
    AssistantMessage,
    AudioPart,
    Content,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    ReasoningPart,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
    VideoPart,
)
from schemas.errors import Code, GatewayError

PROVIDER = "gemini"
_decode_json = msgspec.json.decode


def _unsupported(what: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, f"{PROVIDER} cannot take {what}", provider=PROVIDER)


def to_gemini_parts(content: Content, warnings: list[str]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
            continue
        if isinstance(part, DocumentPart) and part.text is not UNSET:
            heading = f"{part.title}\n\n" if part.title is not UNSET else ""
            parts.append({"text": heading + part.text})
            continue
        if part.base64 is not UNSET:
            parts.append(to_gemini_inline_data(part.base64))
        elif part.url is not UNSET:
            parts.append(to_gemini_file_data(part.url))
        else:
            raise GatewayError(Code.INVALID_REQUEST, f"{_kind(part)} part needs a url or base64")
        if getattr(part, "detail", UNSET) is not UNSET:
            _warn(warnings, "image detail is not supported by gemini; it was not sent")
    return parts


def _kind(part: ContentPart) -> str:
    kinds = {ImagePart: "an image", AudioPart: "an audio", VideoPart: "a video", DocumentPart: "a document"}
    return kinds.get(type(part), "a text")


def _warn(warnings: list[str], text: str) -> None:
    if text not in warnings:
        warnings.append(text)


def to_gemini_system_instruction(messages: list[Message]) -> dict[str, Any] | None:
    texts: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, SystemMessage):
            continue
        if isinstance(message.content, str):
            texts.append({"text": message.content})
            continue
        for part in message.content:
            if not isinstance(part, TextPart):
                raise _unsupported(f"{_kind(part)} part in a system message")
            texts.append({"text": part.text})
    return {"parts": texts} if texts else None


def _arguments(call: ToolCall) -> dict[str, Any]:
    text = call.function.arguments.strip()
    if not text:
        return {}
    try:
        value = _decode_json(text)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict):
        raise GatewayError(
            Code.INVALID_REQUEST, f"tool call {call.id} has arguments that are not a JSON object"
        )
    return value


def _function_call(call: ToolCall) -> dict[str, Any]:
    function_call: dict[str, Any] = {"name": call.function.name, "args": _arguments(call)}
    own_id = gemini_call_id(call.id)
    if own_id is not None:
        function_call["id"] = own_id
    return {"functionCall": function_call}


def _attach_signatures(
    reasoning: list[ReasoningPart],
    thoughts: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    texts: list[dict[str, Any]],
) -> None:
    """Put each signature back on the kind of part it came from; see the module docstring."""
    loose = [part.signature for part in reasoning if not part.text and part.signature]
    if calls and not loose:
        signed = [thought for thought in thoughts if "thoughtSignature" in thought]
        if signed:
            calls[0]["thoughtSignature"] = signed[-1].pop("thoughtSignature")
    if calls and loose:
        for call, signature in zip(calls, loose[-len(calls) :], strict=False):
            call["thoughtSignature"] = signature
        loose = loose[: -len(calls)]
    if loose:
        target = texts[-1] if texts else thoughts[-1] if thoughts else None
        if target is None:
            target = {"text": "", "thought": True}
            thoughts.append(target)
        target["thoughtSignature"] = loose[-1]


def to_gemini_model_turn(message: AssistantMessage, warnings: list[str]) -> list[dict[str, Any]]:
    reasoning = message.reasoning if message.reasoning is not UNSET else []
    thoughts: list[dict[str, Any]] = []
    for part in reasoning:
        if part.redacted is not UNSET:
            _warn(warnings, "redacted reasoning cannot be sent to gemini; it was not sent")
        if part.text:
            thought: dict[str, Any] = {"text": part.text, "thought": True}
            if part.signature:
                thought["thoughtSignature"] = part.signature
            thoughts.append(thought)
    content: list[dict[str, Any]] = []
    if message.content is not None and message.content != "":
        content = to_gemini_parts(message.content, warnings)
    calls = [_function_call(call) for call in (message.tool_calls or [])]
    texts = [part for part in content if "text" in part]
    _attach_signatures(reasoning, thoughts, calls, texts)
    return thoughts + content + calls


def _function_response(
    message: ToolMessage, names: dict[str, str], warnings: list[str]
) -> list[dict[str, Any]]:
    name = message.name if message.name is not UNSET else names.get(message.tool_call_id)
    if name is None:
        raise GatewayError(
            Code.INVALID_REQUEST,
            f"tool result {message.tool_call_id} answers no earlier tool call, "
            "and gemini needs the function's name",
        )
    if isinstance(message.content, str):
        text, media = message.content, []
    else:
        text = "".join(part.text for part in message.content if isinstance(part, TextPart))
        others: list[ContentPart] = [part for part in message.content if not isinstance(part, TextPart)]
        media = to_gemini_parts(others, warnings)
    try:
        value = _decode_json(text) if text.strip() else None
    except msgspec.DecodeError:
        value = None
    response: dict[str, Any]
    if message.is_error is True:
        response = {"error": value if isinstance(value, dict) else text}
    else:
        response = value if isinstance(value, dict) else {"result": text}
    function_response: dict[str, Any] = {"name": name, "response": response}
    own_id = gemini_call_id(message.tool_call_id)
    if own_id is not None:
        function_response["id"] = own_id
    return [{"functionResponse": function_response}, *media]


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    """Gemini wants turns to alternate; consecutive turns of one role become one."""
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def to_gemini_contents(messages: list[Message], warnings: list[str]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, UserMessage):
            if message.name is not UNSET:
                _warn(warnings, "message names are not supported by gemini; they were not sent")
            _append(contents, "user", to_gemini_parts(message.content, warnings))
        elif isinstance(message, AssistantMessage):
            for call in message.tool_calls or []:
                names[call.id] = call.function.name
            parts = to_gemini_model_turn(message, warnings)
            if parts:
                _append(contents, "model", parts)
        else:
            _append(contents, "user", _function_response(message, names, warnings))
    return contents
