"""The native (Bytez-compatible) surface: `POST /models/v2/{model_id}` and its catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from proxy import observability as observe
from proxy.accounting.metering import billing_headers
from proxy.dispatch.call import CallContext, open_call
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.routing.catalogue import catalogue_models, catalogue_tasks
from proxy.routing.routes import Resolution
from proxy.server.answers import Answer, EventStream
from proxy.server.openapi import CatalogueList, TaskList, described
from proxy.server.protocol import accepts_trailers
from proxy.surfaces.media_routing import fetch_for_vendors
from proxy.surfaces.native.decode import chat_request, takes_chat_path
from proxy.surfaces.native.encode import (
    SSE_HEADERS,
    TRAILER_FIELDS,
    StreamCut,
    chat_envelope,
    encode_envelope,
    raw_text,
    unified_sse,
)
from proxy.surfaces.native.tasks import check_pool_targets, run_request, task_envelope
from schemas.errors import Code, GatewayError
from schemas.events import Billing, StreamEvent
from schemas.native import CatalogueAnswer, Envelope, NativeBody
from schemas.tasks import RunRequest

_decode_body = msgspec.json.Decoder(NativeBody).decode
_encode = msgspec.json.encode
RAW_TEXT = "text/plain; charset=utf-8"


def decode_native_body(raw: bytes) -> NativeBody:
    if not raw:
        raise GatewayError(Code.INVALID_REQUEST, "the request body is empty; send a JSON object")
    try:
        return _decode_body(raw)
    except msgspec.ValidationError as error:
        raise GatewayError(Code.INVALID_REQUEST, f"invalid body: {error}") from None
    except msgspec.DecodeError:
        raise GatewayError(Code.INVALID_REQUEST, "the request body is not valid JSON") from None


def wants_raw_text(headers: Headers) -> bool:
    accept = headers.get("accept", "")
    if "text/event-stream" in accept:
        return False
    return "text/plain" in accept or "lang" in headers


@post(
    "/models/v2/{model_id:path}",
    name="run_model",
    status_code=200,
    operation_class=described(NativeBody, Envelope, streams=True),
)
async def run_model(
    request: Request[Any, Any, Any],
    model_id: FromPath[str],
    gateway: NamedDependency[Gateway],
    key: NamedDependency[KeyRecord],
) -> Response[bytes] | Stream:
    headers = request.headers
    model_id = model_id.lstrip("/")
    observe.noted_model(model_id)
    resolution = gateway.router.resolve(model_id)
    if resolution is None:
        raise GatewayError(Code.NOT_FOUND, f"no route for model {model_id!r}")
    body = decode_native_body(await request.body())
    task = None
    if not takes_chat_path(resolution.task, body):
        task = run_request(model_id, resolution.task, body, gateway.settings.config.media.max_bytes)
    chat = chat_request(model_id, body) if task is None else task
    if body.fallbacks:
        resolution = gateway.router.with_fallbacks(resolution, body.fallbacks)
    if task is not None:
        check_pool_targets(resolution)
        task = chat = await fetch_for_vendors(gateway, resolution, task)
    context = open_call(key, model_id, headers, request.receive)
    if chat.stream:
        events: AsyncIterator[StreamEvent] = await gateway.dispatcher.stream(chat, resolution, context)
        stream_headers = {**SSE_HEADERS, "X-Request-Id": context.request_id}
        if wants_raw_text(headers):
            return _raw_text_stream(
                events, stream_headers, accepts_trailers(request.scope, headers.get("te"))
            )
        return EventStream(unified_sse(events), media_type="text/event-stream", headers=stream_headers)
    if isinstance(chat, RunRequest):
        return await answer_task(gateway, chat, resolution, context)
    done = await gateway.dispatcher.complete(chat, resolution, context)
    return Answer(
        encode_envelope(chat_envelope(done, context.request_id, model_id)),
        media_type="application/json",
        headers={**billing_headers(done.billing), "X-Request-Id": context.request_id},
    )


def _raw_text_stream(
    events: AsyncIterator[StreamEvent], headers: dict[str, str], trailed: bool
) -> EventStream:
    """The raw-text stream, cut short if it fails; its billing in trailers when the client
    takes them (proxy/surfaces/native/encode.py)."""
    if not trailed:
        return EventStream(raw_text(events), media_type=RAW_TEXT, headers=headers, cut_on=StreamCut)
    billed: list[Billing] = []
    return EventStream(
        raw_text(events, billed.append),
        media_type=RAW_TEXT,
        headers=headers,
        cut_on=StreamCut,
        trailers=lambda: billing_headers(billed[-1]) if billed else {},
        trailer_names=TRAILER_FIELDS,
    )


async def answer_task(
    gateway: NamedDependency[Gateway], task: RunRequest, resolution: Resolution, context: CallContext
) -> Response[bytes]:
    """A non-chat task's envelope: `output` exactly as the worker gave it, and its billing;
    generated media asked for with `"json": false` is the bytes alone (billing in headers)."""
    done = await gateway.dispatcher.run_task(task, resolution, context)
    headers = {**billing_headers(done.billing), "X-Request-Id": context.request_id}
    media = done.response.media
    if media is not None and isinstance(media.data, bytes):
        return Answer(media.data, media_type=media.content_type, headers=headers)
    envelope = task_envelope(done, context.request_id, context.model_id)
    return Answer(encode_envelope(envelope), media_type="application/json", headers=headers)


@get("/models/v2/list/models", name="list_models", operation_class=described(answer=CatalogueList))
async def list_models(
    gateway: NamedDependency[Gateway],
    key: NamedDependency[KeyRecord],
    task: FromQuery[str | None] = None,
    modelId: FromQuery[str | None] = None,
) -> Response[bytes]:
    entries = catalogue_models(gateway, task=None, model_id=modelId)
    if modelId and not entries:
        raise GatewayError(Code.NOT_FOUND, f"no route for model {modelId!r}")
    entries = [entry for entry in entries if not task or entry.task == task]
    return Response(_encode(CatalogueAnswer(output=entries)), media_type="application/json")


@get("/models/v2/list/tasks", name="list_tasks", operation_class=described(answer=TaskList))
async def list_tasks(gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]) -> Response[bytes]:
    return Response(_encode(CatalogueAnswer(output=catalogue_tasks(gateway))), media_type="application/json")
