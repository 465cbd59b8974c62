"""`POST /v1/completions`, the legacy text-completion call, served through chat: the prompt
is one user turn, the answer's text is the completion. So every routed model answers, with
the same dispatch, limits, budgets and ledger as chat; what chat cannot express (`suffix`,
`logprobs`, `best_of`, several prompts or `n` > 1) is a 400 `unsupported`, `echo` prepends
the prompt as OpenAI does. Streams are `text_completion` chunks ending in `data: [DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from proxy.accounting.metering import billing_headers
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.surfaces.intake import call_context, convert, read_json_object, resolve
from proxy.surfaces.native.encode import SSE_HEADERS
from proxy.surfaces.openai.encode import DONE, FINISH_REASONS, PING, completion_usage
from proxy.surfaces.openai.errors import openai_error
from schemas.chat import ChatRequest, Sampling, Usage, UserMessage
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
    usage_of,
)
from schemas.responses_surface import CompletionsBody, TextChoice, TextCompletion

_encode = msgspec.json.encode


def _unsupported(message: str) -> GatewayError:
    return GatewayError(Code.UNSUPPORTED, message)


def to_chat_request(body: CompletionsBody) -> tuple[ChatRequest, str]:
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise _unsupported("prompt must be one string: unigate answers one completion per request")
        prompt = prompt[0]
    if not prompt:
        raise GatewayError(Code.INVALID_REQUEST, "prompt must not be empty")
    if body.suffix:
        raise _unsupported("suffix (fill-in-the-middle) is not supported")
    if body.logprobs:
        raise _unsupported("logprobs are not supported on /v1/completions")
    if (body.n or 1) != 1 or (body.best_of or 1) != 1:
        raise _unsupported("n and best_of must be 1")
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
    return chat, prompt


def _chunk(completion_id: str, model: str, created: int, text: str, finish: str | None) -> bytes:
    choice = TextChoice(text=text, index=0, logprobs=None, finish_reason=finish)
    chunk = TextCompletion(id=completion_id, created=created, model=model, choices=[choice])
    return b"data: " + _encode(chunk) + b"\n\n"


async def _frames(
    events: AsyncIterator[StreamEvent], completion_id: str, body: CompletionsBody, prompt: str, created: int
) -> AsyncIterator[bytes]:
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    usage = Usage()
    if body.echo:
        yield _chunk(completion_id, body.model, created, prompt, None)
    async for event in events:
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
    body = convert(read_json_object(await request.body()), CompletionsBody)
    resolution = resolve(gateway, body.model)
    chat, prompt = to_chat_request(body)
    context = call_context(key, body.model, request)
    completion_id = f"cmpl-{context.request_id}"
    created = int(time.time())
    headers = {"X-Request-Id": context.request_id}
    if chat.stream:
        events = await gateway.dispatcher.stream(chat, resolution, context)
        return Stream(
            _frames(events, completion_id, body, prompt, created),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    done = await gateway.dispatcher.complete(chat, resolution, context)
    text = (prompt if body.echo else "") + (done.response.content or "")
    choice = TextChoice(
        text=text, index=0, logprobs=None, finish_reason=FINISH_REASONS[done.response.finish_reason]
    )
    answer = TextCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[choice],
        usage=completion_usage(done.response.usage, done.billing.cost),
    )
    return Response(
        _encode(answer), media_type="application/json", headers={**billing_headers(done.billing), **headers}
    )
