"""OpenAI-protocol workers (vLLM, TGI, SGLang, llama.cpp server, Ollama): the OpenAI adapter,
tuned by a `Dialect`, plus the two calls a worker pool adds.

- Chat always streams upstream, even for a non-streamed client request: the answer is
  assembled from the events, and a client that leaves closes the stream, which stops the
  generation on the worker (vLLM aborts a request whose connection closed).
- Text generation (`text` → `[{"generated_text": ...}]`) goes to `/v1/completions`, streamed
  the same way; `generated_text` starts with the prompt, as Hugging Face pipelines (and so
  the Bytez API) answer, unless `params.return_full_text` is false.
- Embedding tasks go to `/v1/embeddings`.

One adapter instance serves one pool (its name is `pool:<name>`); the base URL of each call
is the chosen member's `<url>/v1`. The key is the pool's configured one, or none at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import msgspec
from msgspec import UNSET, Struct

from adapters.base import Capabilities, EmbeddingCall, Opening, UpstreamCall, chat_request, task_request
from adapters.openai import OpenAIAdapter
from adapters.openai.errors import classify_openai_error_body
from adapters.openai.media import run_openai_media
from adapters.openai.request import Dialect
from adapters.openai.response import from_openai_usage, map_openai_finish_reason
from adapters.openai.wire import WireError, WireUsage
from adapters.replies import not_json
from adapters.thinking_chunks import chunk_events, reply_reasoning
from adapters.transport import decode_stream, sse_data
from adapters.workers import closing, collect_chat, collect_text
from schemas.chat import ChatRequest, ChatResponse
from schemas.embeddings import EmbeddingRequest
from schemas.errors import Code, GatewayError
from schemas.events import Finish, StreamEvent, TextDelta, UsageEvent
from schemas.tasks import EMBEDDING_TASKS, OPENAI_MEDIA_TASKS, TEXT_GENERATION, RunRequest, RunResponse

__all__ = ["OpenAICompatAdapter", "to_completions_body", "worker_dialect"]

_encode = msgspec.json.encode
_RENAMED = {"max_new_tokens": "max_tokens", "max_length": "max_tokens", "num_return_sequences": "n"}
_OURS = frozenset({"return_full_text", "do_sample"})
"""Hugging Face generation parameters with no OpenAI field; read here, never sent."""


def worker_dialect(provider: str) -> Dialect:
    """What the OpenAI-compatible servers share: `max_tokens`, `top_k` accepted, no PDFs, and
    Mistral's thinking chunks read (vLLM serving Magistral passes them on)."""
    return Dialect(
        provider=provider,
        max_tokens_field="max_tokens",
        supports_top_k=True,
        document=None,
        content_chunks=chunk_events,
        reply_reasoning=reply_reasoning,
    )


def to_completions_body(request: RunRequest, model: str) -> dict[str, Any]:
    """A text-generation task → a streamed `/v1/completions` body, Hugging Face parameter
    names mapped to OpenAI's; anything else in `params` travels verbatim (vLLM's own knobs)."""
    body: dict[str, Any] = {}
    for name, value in request.params.items():
        if name in _OURS or value is None:
            continue
        body[_RENAMED.get(name, name)] = value
    if request.params.get("do_sample") is False and "temperature" not in body:
        body["temperature"] = 0.0
    if isinstance(body.get("stop"), str):
        body["stop"] = [body["stop"]]
    body.update(
        model=model,
        prompt=request.text if request.text is not UNSET else "",
        stream=True,
        stream_options={"include_usage": True},
    )
    return body


class _TextChoice(Struct):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class _TextChunk(Struct):
    id: str = ""
    model: str = ""
    choices: list[_TextChoice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None
    error: WireError | None = None
    object: str | None = None


_decode_text_chunk = msgspec.json.Decoder(_TextChunk).decode


class CompletionsStreamDecoder:
    """`text_completion` chunks → StreamEvents; usage and finish come last, as for chat."""

    __slots__ = ("_finish", "_provider", "_usage", "done", "opening")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.opening: Opening | None = None
        self._finish: str | None = None
        self._usage: WireUsage | None = None
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            return self.close()
        try:
            chunk = _decode_text_chunk(data)
        except msgspec.DecodeError:
            raise not_json(self._provider, "a chunk") from None
        if chunk.error is not None or chunk.object == "error":
            raise classify_openai_error_body(200, data.encode(), self._provider, {})
        events: list[StreamEvent] = []
        if self.opening is None:
            self.opening = Opening(id=chunk.id, model=chunk.model)
        for choice in chunk.choices:
            if choice.index == 0 and choice.text:
                events.append(TextDelta(index=0, text=choice.text))
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
        usage = from_openai_usage(self._usage)
        return [
            UsageEvent(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
            Finish(reason=map_openai_finish_reason(self._finish), raw_reason=self._finish),
        ]


class OpenAICompatAdapter(OpenAIAdapter):
    capabilities = Capabilities(audio=True, embeddings=True, reasoning=True)

    def __init__(
        self, provider: str, api_key: str | None = None, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        super().__init__(
            dialect=worker_dialect(provider), default_base_url="http://127.0.0.1/v1", http_client=http_client
        )
        self._key_of_pool = api_key or ""
        self.native_paths = frozenset({"/completions"})  # a legacy /v1/completions body, as sent

    def _key(self, call: UpstreamCall | EmbeddingCall) -> str:
        """The pool's key unless the call brings one; none at all (no Authorization header)
        when the pool has none, as most workers take none."""
        return call.api_key or self._key_of_pool

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        request = chat_request(call, self.name)
        if self._native(request) is not None:
            return await super().complete(call)  # the worker's own JSON, logprobs and all
        streamed = dataclasses.replace(call, request=msgspec.structs.replace(request, stream=True))
        async with closing(self.stream(streamed)) as events:
            return await collect_chat(events)

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        """A chat turn on `/chat/completions`; a streamed text-generation task on `/completions`."""
        match call.request:
            case RunRequest(task=task) if task != TEXT_GENERATION:
                raise GatewayError(Code.UNSUPPORTED, f"{self.name} cannot stream {task}", provider=self.name)
            case RunRequest() as request:
                events = self._completions(call, request)
            case ChatRequest():
                events = super().stream(call)
        async with closing(events):
            async for event in events:
                yield event

    async def run(self, call: UpstreamCall) -> RunResponse:
        request = task_request(call, self.name)
        if request.task == TEXT_GENERATION:
            async with closing(self._completions(call, request)) as events:
                text, usage = await collect_text(events)
            if request.params.get("return_full_text", True) is not False and request.text is not UNSET:
                text = request.text + text
            return RunResponse(output=msgspec.Raw(_encode([{"generated_text": text}])), usage=usage)
        if request.task in EMBEDDING_TASKS and request.text is not UNSET:
            embedding = EmbeddingCall(
                request=EmbeddingRequest(model=call.model, input=request.text),
                model=call.model,
                api_key=call.api_key,
                base_url=call.base_url,
                timeouts=call.timeouts,
                headers=call.headers,
            )
            embedded = await self.embed(embedding)
            return RunResponse(output=msgspec.Raw(_encode(embedded.vectors[0])), usage=embedded.usage)
        if request.task in OPENAI_MEDIA_TASKS:
            return await run_openai_media(self, call)
        raise GatewayError(
            Code.UNSUPPORTED,
            f"{self.name} speaks the OpenAI protocol: it runs chat, text-generation, embeddings "
            f"and OpenAI's media endpoints, not {request.task}",
            provider=self.name,
        )

    async def _completions(self, call: UpstreamCall, request: RunRequest) -> AsyncIterator[StreamEvent]:
        body = _encode(to_completions_body(request, call.model))
        response = await self._post(call, "/completions", body, stream=True)
        decoder = sse_data(CompletionsStreamDecoder(self.name))
        async for event in decode_stream(response, decoder, self.name):
            yield event
