"""OpenAI's legacy `/completions`, for a `/v1/completions` request routed to OpenAI or to an
OpenAI-protocol pool (vLLM, TGI, SGLang, llama.cpp, Ollama serve it natively).

The caller's body goes out as written but for the upstream model name (and, streamed,
`stream_options.include_usage`, which dispatch needs to bill), so `suffix`, `logprobs`,
`echo`, `best_of`, `n` and a list of prompts all reach the backend; its answer comes back
byte for byte (`ChatResponse.raw`, or a `VendorFrame` per chunk), beside the unified text,
usage and finish that dispatch meters. (adapters/openai_compat.py's text-generation task
reads choice 0 only; here every choice counts.) Pure, apart from the decoder's state.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from adapters.base import Opening
from adapters.openai.errors import classify_openai_error_body
from adapters.openai.response import from_openai_usage, map_openai_finish_reason
from adapters.openai.wire import WireError, WireUsage
from schemas.chat import ChatResponse
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, StreamEvent, TextDelta, VendorFrame, usage_event

PATH = "/completions"
_encode = msgspec.json.encode


class _Choice(Struct):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class _Completion(Struct):
    id: str = ""
    model: str = ""
    object: str | None = None
    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None
    error: WireError | None = None


_decode = msgspec.json.Decoder(_Completion).decode


def to_completion_body(body: dict[str, Any], model: str, stream: bool) -> bytes:
    sent = {**body, "model": model, "stream": stream}
    if stream:
        sent["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    else:
        sent.pop("stream_options", None)
    return _encode(sent)


def _parsed(content: bytes | str, provider: str) -> _Completion:
    try:
        return _decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UpstreamError(
            Code.SERVER_ERROR, f"{provider} sent a completion that is not valid JSON", provider=provider
        ) from error


def from_completion_answer(content: bytes, provider: str) -> ChatResponse:
    completion = _parsed(content, provider)
    first = next((choice for choice in completion.choices if choice.index == 0), None)
    finish = first.finish_reason if first is not None else None
    return ChatResponse(
        id=completion.id,
        model=completion.model,
        content="".join(choice.text for choice in completion.choices) or None,
        finish_reason=map_openai_finish_reason(finish),
        raw_finish_reason=finish,
        usage=from_openai_usage(completion.usage),
        raw=msgspec.Raw(content),
    )


class CompletionFrames:
    """`text_completion` chunks: each passed on whole, then its text, usage and finish."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.opening: Opening | None = None
        self._finish: str | None = None
        self._usage: WireUsage | None = None
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            return self.close()
        chunk = _parsed(data, self._provider)
        if chunk.error is not None or chunk.object == "error":
            raise classify_openai_error_body(200, data.encode(), self._provider, {})
        events: list[StreamEvent] = []
        if self.opening is None:
            self.opening = Opening(id=chunk.id, model=chunk.model)
        events.append(VendorFrame(data=msgspec.Raw(data.encode())))
        for choice in chunk.choices:
            if choice.text:
                events.append(TextDelta(index=choice.index, text=choice.text))
            if choice.index == 0 and choice.finish_reason:
                self._finish = choice.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        return events

    def close(self) -> list[StreamEvent]:
        if self.done:
            return []
        self.done = True
        if self._finish is None:
            return []  # cut: adapters/transport.py `decode_stream` says so
        return [
            usage_event(from_openai_usage(self._usage)),
            Finish(reason=map_openai_finish_reason(self._finish), raw_reason=self._finish),
        ]
