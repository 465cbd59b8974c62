"""`POST /v1/completions`, the legacy text-completion call.

OpenAI and OpenAI-protocol pools (vLLM, TGI, SGLang, llama.cpp, Ollama) serve it natively:
the body goes to their own `/completions` as written (`ChatRequest.openai_native`), so
`suffix`, `logprobs`, `echo`, `best_of`, `n` and several prompts work, and their answer
comes back as they wrote it, under our id and the model id the client sent, with our `cost`
in `usage`. Any other target serves it through chat: the prompt is one user turn, the
answer's text is the completion, `echo` prepends the prompt as OpenAI does; what chat cannot
express (`suffix`, `logprobs`, `best_of`) is dropped with a warning (`Unigate-Warnings`),
and several prompts or `n` > 1 are a 400 `unsupported` when no target serves them natively.
Either way the same dispatch, limits, budgets and ledger. Streams are `text_completion`
chunks ending in `data: [DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from proxy.accounting.metering import billing_headers
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.routing.routes import Resolution
from proxy.server.answers import Answer, EventStream
from proxy.surfaces.intake import call_context, convert, read_json_object, resolve
from proxy.surfaces.native.encode import SSE_HEADERS
from proxy.surfaces.openai.encode import DONE, FINISH_REASONS, PING, completion_usage
from proxy.surfaces.openai.errors import openai_error
from proxy.surfaces.warnings import started, warnings_header
from schemas.chat import ChatRequest, OpenAINative, Sampling, Usage, UserMessage
from schemas.errors import Code, GatewayError
from schemas.events import (
    Billing,
    Done,
    ErrorEvent,
    Finish,
    Ping,
    StreamEvent,
    TextDelta,
    UsageEvent,
    VendorFrame,
    usage_of,
)
from schemas.responses_surface import CompletionsBody, TextChoice, TextCompletion

_encode = msgspec.json.encode


def _unsupported(message: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, message)


def native_providers(gateway: Gateway, resolution: Resolution) -> set[str]:
    """The route's targets that serve `/completions` themselves: OpenAI, and pools that speak
    the OpenAI protocol (their provider name is `pool:<name>`)."""
    openai_pools = {pool.name for pool in gateway.settings.config.pools if pool.protocol == "openai"}
    served: set[str] = set()
    for target in resolution.targets:
        if target.provider == "openai":
            served.add("openai")
        elif target.pool is not None and target.pool in openai_pools:
            served.add(f"pool:{target.pool}")
    return served


@dataclass
class Translated:
    chat: ChatRequest
    prompt: str
    warnings: list[str] = field(default_factory=list)
    """What the chat translation leaves out (said only when it is what served the call)."""


def to_chat_request(body: CompletionsBody, native: bool = False) -> Translated:
    """The chat translation. `native`: a target serves the body itself, so what chat cannot
    express is a warning for a fallback, not an error."""
    warnings: list[str] = []
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1 and not native:
            raise _unsupported("prompt must be one string: this model answers one completion per request")
        if len(prompt) != 1:
            warnings.append("several prompts are served natively only; chat got the first")
        prompt = prompt[0] if prompt else ""
    if not prompt:
        raise GatewayError(Code.INVALID_REQUEST, "prompt must not be empty")
    if (body.n or 1) != 1:
        if not native:
            raise _unsupported("n must be 1: this model answers one completion per request")
        warnings.append("n is served natively only; chat answered one completion")
    for name, sent in (
        ("suffix", body.suffix),
        ("logprobs", body.logprobs),
        ("best_of", (body.best_of or 1) > 1),
    ):
        if sent:
            warnings.append(f"{name} is not supported through chat; it was not sent")
    sampling = Sampling()
    sampling.max_tokens = body.max_tokens if body.max_tokens is not None else 16
    if body.stop is not None:
        sampling.stop = [body.stop] if isinstance(body.stop, str) else body.stop
    for name in ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"):
        value = getattr(body, name)
        if value is not None:
            setattr(sampling, name, value)
    chat = ChatRequest(
        model=body.model, messages=[UserMessage(content=prompt)], stream=bool(body.stream), sampling=sampling
    )
    return Translated(chat, prompt, warnings)


def _native_answer(raw: bytes, completion_id: str, model: str, cost: float | None) -> dict[str, Any]:
    answer: dict[str, Any] = msgspec.json.decode(raw)
    answer.update(id=completion_id, model=model)
    if isinstance(answer.get("usage"), dict):
        answer["usage"]["cost"] = cost
    return answer


def _chunk(completion_id: str, model: str, created: int, text: str, finish: str | None) -> bytes:
    choice = TextChoice(text=text, index=0, logprobs=None, finish_reason=finish)
    chunk = TextCompletion(id=completion_id, created=created, model=model, choices=[choice])
    return b"data: " + _encode(chunk) + b"\n\n"


@dataclass
class _StreamState:
    completion_id: str
    body: CompletionsBody
    prompt: str
    created: int
    native: bool = False
    echoed: bool = False


def _native_chunk(event: VendorFrame, state: _StreamState) -> bytes:
    """A backend's chunk under our id and model; its usage-only chunk is left for ours (with `cost`)."""
    chunk = msgspec.json.decode(event.data)
    if not isinstance(chunk, dict) or (not chunk.get("choices") and chunk.get("usage") is not None):
        return b""
    chunk.update(id=state.completion_id, model=state.body.model)
    chunk.pop("usage", None)
    return b"data: " + _encode(chunk) + b"\n\n"


async def _frames(events: AsyncIterator[StreamEvent], state: _StreamState) -> AsyncIterator[bytes]:
    body, completion_id, created = state.body, state.completion_id, state.created
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    usage = Usage()
    async for event in events:
        if isinstance(event, VendorFrame):
            state.native = True
            frame = _native_chunk(event, state)
            if frame:
                yield frame
        elif isinstance(event, TextDelta | Finish) and not state.native:
            if body.echo and not state.echoed:
                state.echoed = True
                yield _chunk(completion_id, body.model, created, state.prompt, None)
            if isinstance(event, TextDelta) and event.text:
                yield _chunk(completion_id, body.model, created, event.text, None)
            elif isinstance(event, Finish):
                yield _chunk(completion_id, body.model, created, "", FINISH_REASONS[event.reason])
        elif isinstance(event, UsageEvent):
            usage = usage_of(event)
        elif isinstance(event, Billing) and include_usage:
            final = TextCompletion(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[],
                usage=completion_usage(usage, event.cost),
            )
            yield b"data: " + _encode(final) + b"\n\n"
        elif isinstance(event, ErrorEvent):
            yield b"data: " + _encode(openai_error(event.code, event.message)) + b"\n\n"
            return
        elif isinstance(event, Done):
            yield DONE
        elif isinstance(event, Ping):
            yield PING


@post(["/v1/completions", "/models/v2/openai/v1/completions"], name="openai_completions", status_code=200)
async def completions(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes] | Stream:
    fields = read_json_object(await request.body())
    body = convert(fields, CompletionsBody)
    resolution = resolve(gateway, body.model)
    native = native_providers(gateway, resolution)
    translated = to_chat_request(body, native=bool(native))
    chat = translated.chat
    if native:
        chat.openai_native = OpenAINative("/completions", fields)
    context = call_context(key, body.model, request)
    completion_id = f"cmpl-{context.request_id}"
    created = int(time.time())
    headers = {"X-Request-Id": context.request_id}

    def warnings(provider: str | None, upstream: list[str]) -> dict[str, str]:
        return warnings_header([*([] if provider in native else translated.warnings), *upstream])

    if chat.stream:
        start, events = await started(await gateway.dispatcher.stream(chat, resolution, context))
        provider = start.provider if start is not None else None
        upstream = list(start.warnings or []) if start is not None else []
        state = _StreamState(completion_id, body, translated.prompt, created)
        return EventStream(
            _frames(events, state),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers, **warnings(provider, upstream)},
        )
    done = await gateway.dispatcher.complete(chat, resolution, context)
    headers.update(billing_headers(done.billing))
    headers.update(warnings(done.provider, done.response.warnings))
    if done.provider in native:
        answer = _native_answer(bytes(done.response.raw), completion_id, body.model, done.billing.cost)
        return Answer(_encode(answer), media_type="application/json", headers=headers)
    text = (translated.prompt if body.echo else "") + (done.response.content or "")
    choice = TextChoice(
        text=text, index=0, logprobs=None, finish_reason=FINISH_REASONS[done.response.finish_reason]
    )
    answer_object = TextCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[choice],
        usage=completion_usage(done.response.usage, done.billing.cost),
    )
    return Answer(_encode(answer_object), media_type="application/json", headers=headers)
