"""A native body → the unified ChatRequest: inputs to messages, `params` to sampling + extras;
and which bodies take this path (`takes_chat_path`), the rest being tasks (tasks.py).

`params` takes unified names (and the seed's aliases `max_new_tokens`, `max_length`);
anything else in it is vendor-specific and travels verbatim. Validation that needs no
vendor happens here, so a bad request never reaches one.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from msgspec import UNSET

from schemas.chat import (
    AssistantMessage,
    ChatRequest,
    Content,
    ContentPart,
    JsonObjectFormat,
    Message,
    ResponseFormat,
    Sampling,
    SystemMessage,
    TextPart,
    Tool,
    ToolChoice,
    ToolMessage,
    UserMessage,
)
from schemas.errors import Code, GatewayError
from schemas.native import NativeBody
from schemas.tasks import CHAT, CHAT_CAPABLE_TASKS

_ALIASES = {"max_new_tokens": "max_tokens", "max_length": "max_tokens", "max_completion_tokens": "max_tokens"}
_SAMPLING = frozenset(Sampling.__struct_fields__)
_STRUCTURAL = frozenset({"tools", "tool_choice", "response_format", "stream"})
NEVER_FORWARDED = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "azure_endpoint",
        "azure_ad_token",
        "user_config",
        "organization",
        "project",
        "headers",
        "extra_headers",
        "default_headers",
        "extra_query",
        "default_query",
        "http_client",
        "timeout",
        "max_retries",
        "proxy",
        "proxies",
        "vertex_project",
        "vertex_location",
        "vertex_credentials",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_region_name",
        "host",
        "endpoint",
        "url",
    }
)
"""Client params that would steer the upstream call itself (where it goes, with which
credentials or headers): dropped, never sent as vendor extras (CVE-2024-6587)."""
log = logging.getLogger("unigate.normalize")


def takes_chat_path(task: str, body: NativeBody) -> bool:
    """Chat models, and chat-capable models (an instruct model served as text-generation)
    when the body carries messages."""
    if task == CHAT:
        return True
    messages = body.messages is not UNSET or isinstance(body.input, list)
    return task in CHAT_CAPABLE_TASKS and messages


def _invalid(message: str) -> GatewayError:
    return GatewayError(Code.INVALID_REQUEST, message)


def split_params(params: dict[str, Any]) -> tuple[Sampling, dict[str, Any], dict[str, Any]]:
    """(sampling, structural fields found in params, vendor extras)."""
    sampling: dict[str, Any] = {}
    structural: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    dropped = sorted(name for name in params if name.lower() in NEVER_FORWARDED)
    if dropped:
        log.warning("dropped client params that are never forwarded: %s", ", ".join(dropped)[:200])
    for name, value in params.items():
        if name.lower() in NEVER_FORWARDED:
            continue
        unified = _ALIASES.get(name, name)
        if unified in _SAMPLING:
            if value is not None:
                sampling[unified] = value
        elif name in _STRUCTURAL:
            structural[name] = value
        else:
            extra[name] = value
    if isinstance(sampling.get("stop"), str):
        sampling["stop"] = [sampling["stop"]]
    try:
        return msgspec.convert(sampling, Sampling), structural, extra
    except msgspec.ValidationError as error:
        raise _invalid(f"params: {error}") from None


def _media(part: ContentPart, where: str) -> ContentPart:
    """Check a media part's source; a data URL given as `url` moves to `base64`."""
    if isinstance(part, TextPart):
        return part
    if part.url is UNSET and part.base64 is UNSET:
        kind = type(part).__struct_config__.tag
        raise _invalid(f"{where}: a {kind} part needs url or base64")
    if part.url is not UNSET:
        if part.url.startswith("data:"):
            return msgspec.structs.replace(part, url=UNSET, base64=part.url)
        if not part.url.startswith(("http://", "https://")):
            raise _invalid(f"{where}: url must be http(s) or a data URL")
    return part


def _normalise_parts(content: Content, where: str) -> Content:
    if isinstance(content, str):
        return content
    return [_media(part, f"{where}.content[{position}]") for position, part in enumerate(content)]


def _check_messages(messages: list[Message]) -> list[Message]:
    if not messages:
        raise _invalid("messages must not be empty")
    out: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if isinstance(message, AssistantMessage):
            if message.content is None and (message.tool_calls is UNSET or not message.tool_calls):
                raise _invalid(f"{where}: an assistant message needs content or tool_calls")
            if message.content is not None:
                message = msgspec.structs.replace(message, content=_normalise_parts(message.content, where))
            for call in message.tool_calls or ():
                try:
                    msgspec.json.decode(call.function.arguments or "{}")
                except msgspec.DecodeError:
                    raise _invalid(f"{where}: tool call {call.id} has arguments that are not JSON") from None
        elif isinstance(message, UserMessage | SystemMessage | ToolMessage):
            message = msgspec.structs.replace(message, content=_normalise_parts(message.content, where))
        out.append(message)
    return out


def chat_request(model_id: str, body: NativeBody) -> ChatRequest:
    """The unified request for a chat model, from whichever input the body carries."""
    if body.messages is not UNSET:
        messages = body.messages
    elif isinstance(body.input, list):
        messages = body.input
    elif isinstance(body.input, str):
        messages = [UserMessage(content=body.input)]
    elif body.text is not UNSET:
        messages = [UserMessage(content=body.text)]
    else:
        raise _invalid("the body needs one input: messages, input or text")
    sampling, structural, extra = split_params(body.params if body.params is not UNSET else {})
    request = ChatRequest(
        model=model_id,
        messages=_check_messages(list(messages)),
        stream=body.stream,
        sampling=sampling,
        extra=extra,
    )
    try:
        tools = body.tools if body.tools is not UNSET else structural.get("tools", UNSET)
        if tools is not UNSET and tools is not None:
            request.tools = msgspec.convert(tools, list[Tool])
        tool_choice = body.tool_choice if body.tool_choice is not UNSET else structural.get("tool_choice")
        if tool_choice is not None and tool_choice is not UNSET:
            request.tool_choice = msgspec.convert(tool_choice, ToolChoice)
    except msgspec.ValidationError as error:
        raise _invalid(f"tools: {error}") from None
    response_format = body.response_format
    if response_format is UNSET and structural.get("response_format") is not None:
        try:
            response_format = msgspec.convert(structural["response_format"], ResponseFormat)
        except msgspec.ValidationError as error:
            raise _invalid(f"response_format: {error}") from None
    if response_format is UNSET and body.json:
        response_format = JsonObjectFormat()
    if response_format is not UNSET:
        request.response_format = response_format
    return request
