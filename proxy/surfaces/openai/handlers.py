"""The OpenAI-compatible handlers: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, each also
under `/models/v2/openai/v1/` (where the Bytez API serves them).

Litestar matches a path without parameters exactly, before its trie, so
`/models/v2/openai/v1/chat/completions` reaches this surface and not the native
`POST /models/v2/{model_id:path}`. A parameterised path under `/models/v2/openai/` would put an
`openai` node in the trie and make every native `openai/...` model id a 404, so retrieving one
model (`/models/{id}`) is served under `/v1` only; tests/surfaces/test_wire.py guards both.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from proxy.accounting.metering import billing_headers
from proxy.front_door import KEY_OR_API_KEY
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.routing.catalogue import catalogue_models
from proxy.server.answers import Answer, EventStream
from proxy.surfaces.anthropic.encode import to_anthropic_model_list
from proxy.surfaces.intake import (
    call_context,
    convert,
    first_provider,
    read_json_object,
    resolve,
)
from proxy.surfaces.native.encode import SSE_HEADERS
from proxy.surfaces.openai.completions import completions
from proxy.surfaces.openai.decode import to_chat_request, to_embedding_request
from proxy.surfaces.openai.encode import ChunkEncoder, openai_chunks, to_chat_completion, to_embedding_list
from proxy.surfaces.openai.errors import EXCEPTION_HANDLERS
from proxy.surfaces.openai.media import MEDIA_HANDLERS
from proxy.surfaces.warnings import opened, warnings_header
from schemas.errors import Code, GatewayError
from schemas.native import CatalogueEntry
from schemas.openai_surface import ChatCompletionBody, EmbeddingsBody, Model, ModelList

_encode = msgspec.json.encode
PREFIXES = ("/v1", "/models/v2/openai/v1")


def _paths(suffix: str) -> list[str]:
    return [prefix + suffix for prefix in PREFIXES]


@post(_paths("/chat/completions"), name="openai_chat_completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes] | Stream:
    fields = read_json_object(await request.body())
    body = convert(fields, ChatCompletionBody)
    resolution = resolve(gateway, body.model)
    chat = to_chat_request(body.model, body, fields)
    context = call_context(key, body.model, request)
    completion_id = f"chatcmpl-{context.request_id}"
    created = int(time.time())
    if chat.stream:
        warnings, events = await opened(await gateway.dispatcher.stream(chat, resolution, context))
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        encoder = ChunkEncoder(completion_id, body.model, created, include_usage)
        return EventStream(
            openai_chunks(events, encoder),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **warnings_header(warnings), "X-Request-Id": context.request_id},
        )
    done = await gateway.dispatcher.complete(chat, resolution, context)
    return Answer(
        _encode(to_chat_completion(done, completion_id, body.model, created)),
        media_type="application/json",
        headers={
            **billing_headers(done.billing),
            **warnings_header(done.response.warnings),
            "X-Request-Id": context.request_id,
        },
    )


@post(_paths("/embeddings"), name="openai_embeddings", status_code=200)
async def embeddings(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    fields = read_json_object(await request.body())
    body = convert(fields, EmbeddingsBody)
    resolution = resolve(gateway, body.model)
    embedding_request = to_embedding_request(body.model, body, fields, first_provider(resolution))
    context = call_context(key, body.model, request)
    done = await gateway.dispatcher.embed(embedding_request, resolution, context)
    answer = to_embedding_list(done, body.model, body.encoding_format or "float")
    return Answer(
        _encode(answer),
        media_type="application/json",
        headers={**billing_headers(done.billing), "X-Request-Id": context.request_id},
    )


_CATALOGUE_FIELDS = tuple(
    name for name in Model.__struct_fields__ if name not in {"id", "owned_by", "created", "object"}
)


def _model(entry: CatalogueEntry) -> Model:
    """OpenAI's shape, carrying the catalogue's task, meter, prices, sizes and capabilities."""
    owner = entry.provider if isinstance(entry.provider, str) else f"pool:{entry.pool}"
    return Model(
        id=entry.modelId,
        owned_by=owner,
        created=0,
        object="model",
        **{name: getattr(entry, name) for name in _CATALOGUE_FIELDS},
    )


@get(_paths("/models"), name="openai_models", dependencies=KEY_OR_API_KEY)
async def models(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    """OpenAI's list; the Anthropic SDK (it sends `anthropic-version`) gets Anthropic's list."""
    headers = request.headers
    entries = catalogue_models(gateway, task=None, model_id=None)
    if "anthropic-version" in headers:
        return Response(_encode(to_anthropic_model_list(entries)), media_type="application/json")
    return Response(_encode(ModelList(data=[_model(e) for e in entries])), media_type="application/json")


@get("/v1/models/{model_id:path}", name="openai_model")
async def model(
    model_id: FromPath[str], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    model_id = model_id.lstrip("/")
    entries = catalogue_models(gateway, task=None, model_id=model_id)
    if not entries:
        raise GatewayError(Code.NOT_FOUND, f"no route for model {model_id!r}")
    return Response(_encode(_model(entries[0])), media_type="application/json")


openai_router = Router(
    path="/",
    route_handlers=[chat_completions, completions, embeddings, models, model, *MEDIA_HANDLERS],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
)
