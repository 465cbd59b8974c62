"""The Responses API: `POST /v1/responses` (also under `/models/v2/openai/v1/`), and for stored
responses `GET` / `DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.

A call goes through the same admission, dispatch, limits, budgets and ledger as
`/v1/chat/completions`; only the wire differs. `store` (default true) keeps the answer
scoped to the proxy key, so another key's id is a 404, as is an unknown or expired one;
nothing is stored for a request that was refused. The parameterised paths are served under
`/v1` only (see proxy/surfaces/openai/handlers.py for why).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from proxy.accounting.metering import billing_headers
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.limits import EXEMPT_OPT
from proxy.routing.routes import Resolution
from proxy.server.answers import Answer, EventStream
from proxy.surfaces.intake import (
    call_context,
    convert,
    first_provider,
    invalid,
    read_json_object,
    resolve,
)
from proxy.surfaces.native.encode import SSE_HEADERS
from proxy.surfaces.openai.errors import EXCEPTION_HANDLERS
from proxy.surfaces.responses.decode import Decoded, to_chat_request
from proxy.surfaces.responses.encode import ResponseMeta, client_view, to_response
from proxy.surfaces.responses.passthrough import as_ours, new_items, openai_request
from proxy.surfaces.responses.store import ResponseStore, StoredResponse
from proxy.surfaces.responses.stream import ResponseStreamEncoder
from proxy.surfaces.warnings import started, warnings_header
from schemas.chat import OpenAINative
from schemas.errors import Code, GatewayError
from schemas.responses_surface import DeletedResponse, InputItemList, ResponsesBody

_encode = msgspec.json.encode
_ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs", "custom_tool_call": "ctc"}


def _missing(response_id: str) -> GatewayError:
    return GatewayError(Code.NOT_FOUND, f"no stored response {response_id!r} for this key")


def _with_ids(items: list[dict[str, Any]], response_id: str) -> list[dict[str, Any]]:
    """Every stored item gets an id (as OpenAI gives input items one), for `input_items`."""
    for index, item in enumerate(items):
        if "id" not in item:
            prefix = _ITEM_PREFIXES.get(item.get("type", ""), "item")
            item["id"] = f"{prefix}_{response_id.removeprefix('resp_')}_{index}"
    return items


def _headers(request_id: str, warnings: list[str]) -> dict[str, str]:
    return {"X-Request-Id": request_id, **warnings_header(warnings)}


async def _save(
    store: ResponseStore,
    key_id: str,
    items: list[dict[str, Any]],
    response: dict[str, Any],
    provider: str | None,
) -> None:
    stored = StoredResponse(
        id=response["id"],
        model=response["model"],
        provider=provider,
        created_at=time.time(),
        response=response,
        items=_with_ids(items, response["id"]),
    )
    await store.save(key_id, stored)


@dataclass
class _Turn:
    """One request's two ways out: the chat translation, and (when a target is OpenAI) the
    body for OpenAI's own `/responses`, each with its warnings and the items it stores."""

    decoded: Decoded
    passthrough_items: list[dict[str, Any]] | None = None
    passthrough_warnings: list[str] = field(default_factory=list)

    def served_natively(self, provider: str | None) -> bool:
        return provider == "openai" and self.passthrough_items is not None

    def warnings(self, provider: str | None) -> list[str]:
        return self.passthrough_warnings if self.served_natively(provider) else self.decoded.warnings

    def items(self, provider: str | None) -> list[dict[str, Any]]:
        if self.served_natively(provider):
            assert self.passthrough_items is not None
            return self.passthrough_items
        return self.decoded.items


def _turn(
    fields: dict[str, Any], body: ResponsesBody, resolution: Resolution, earlier: list[dict[str, Any]]
) -> _Turn:
    native = any(target.provider == "openai" for target in resolution.targets)
    turn = _Turn(to_chat_request(body, first_provider(resolution), earlier, native_built_ins=native))
    if native:
        current = new_items(fields, earlier)
        native_body = openai_request(fields, earlier, current, turn.passthrough_warnings)
        turn.decoded.chat.openai_native = OpenAINative("/responses", native_body)
        turn.passthrough_items = [*earlier, *current]
    return turn


@post(["/v1/responses", "/models/v2/openai/v1/responses"], name="responses_create", status_code=200)
async def create_response(
    request: Request[Any, Any, Any],
    gateway: NamedDependency[Gateway],
    key: NamedDependency[KeyRecord],
    response_store: NamedDependency[ResponseStore],
) -> Response[bytes] | Stream:
    fields = read_json_object(await request.body())
    body = convert(fields, ResponsesBody)
    if body.previous_response_id == "":
        raise invalid("previous_response_id must not be empty")
    resolution = resolve(gateway, body.model)
    store = response_store
    earlier: list[dict[str, Any]] = []
    if body.previous_response_id:
        previous = await store.get(key.id, body.previous_response_id)
        if previous is None:
            raise _missing(body.previous_response_id)
        earlier = [*previous.items, *previous.response.get("output", [])]
    turn = _turn(fields, body, resolution, earlier)
    chat = turn.decoded.chat
    context = call_context(key, body.model, request)
    meta = ResponseMeta(
        id=f"resp_{context.request_id}", model=body.model, body=body, tools=turn.decoded.tools, fields=fields
    )
    keep = body.store is not False
    if chat.stream:
        start, events = await started(await gateway.dispatcher.stream(chat, resolution, context))
        provider = start.provider if start is not None else None
        upstream_warnings = list(start.warnings or []) if start is not None else []
        encoder = ResponseStreamEncoder(meta, body.include)

        async def frames() -> Any:
            async for event in events:
                frame = encoder.encode(event)
                if frame:
                    yield frame
            closing = encoder.finish()
            if keep and encoder.final is not None:
                await _save(store, key.id, turn.items(provider), encoder.final, encoder.provider)
            yield closing

        warnings = [*turn.warnings(provider), *upstream_warnings]
        return EventStream(
            frames(),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **_headers(context.request_id, warnings)},
        )
    done = await gateway.dispatcher.complete(chat, resolution, context)
    if turn.served_natively(done.provider):
        answer = as_ours(
            msgspec.json.decode(done.response.raw), meta.id, body.model, fields, done.billing.cost
        )
    else:
        answer = msgspec.to_builtins(to_response(done.response, done.billing.cost, meta, done.provider))
    if keep:
        await _save(store, key.id, turn.items(done.provider), answer, done.provider)
    warnings = [*turn.warnings(done.provider), *done.response.warnings]
    return Answer(
        _encode(client_view(answer, body.include)),
        media_type="application/json",
        headers={**billing_headers(done.billing), **_headers(context.request_id, warnings)},
    )


def _include(request: Request[Any, Any, Any]) -> list[str]:
    return [*request.query_params.getall("include[]", []), *request.query_params.getall("include", [])]


@get("/v1/responses/{response_id:str}", name="responses_get")
async def get_response(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    key: NamedDependency[KeyRecord],
    response_store: NamedDependency[ResponseStore],
) -> Response[bytes]:
    if request.query_params.get("stream") in ("true", "1"):
        raise GatewayError(Code.UNSUPPORTED, "a stored response cannot be streamed again; retrieve it whole")
    stored = await response_store.get(key.id, response_id)
    if stored is None:
        raise _missing(response_id)
    return Response(_encode(client_view(stored.response, _include(request))), media_type="application/json")


@delete("/v1/responses/{response_id:str}", name="responses_delete", status_code=200, opt={EXEMPT_OPT: True})
async def delete_response(
    response_id: FromPath[str],
    key: NamedDependency[KeyRecord],
    response_store: NamedDependency[ResponseStore],
) -> Response[bytes]:
    if not await response_store.delete(key.id, response_id):
        raise _missing(response_id)
    return Response(_encode(DeletedResponse(id=response_id)), media_type="application/json")


@get("/v1/responses/{response_id:str}/input_items", name="responses_input_items")
async def input_items(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    key: NamedDependency[KeyRecord],
    response_store: NamedDependency[ResponseStore],
) -> Response[bytes]:
    """OpenAI's cursor list: newest first unless `order=asc`, `limit` 1-100 (20), `after` an item id."""
    stored = await response_store.get(key.id, response_id)
    if stored is None:
        raise _missing(response_id)
    query = request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid("order must be asc or desc")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise invalid("limit must be an integer") from None
    if not 1 <= limit <= 100:
        raise invalid("limit must be between 1 and 100")
    items = list(stored.items) if order == "asc" else list(reversed(stored.items))
    ids = [item.get("id") for item in items]
    for cursor, step in ((query.get("after"), 1), (query.get("before"), 0)):
        if cursor is None:
            continue
        if cursor not in ids:
            raise invalid(f"no item {cursor!r} in this response's input")
        position = ids.index(cursor)
        items, ids = (
            (items[position + 1 :], ids[position + 1 :]) if step else (items[:position], ids[:position])
        )
    page = items[:limit]
    listing = InputItemList(
        data=page,
        first_id=page[0].get("id") if page else None,
        last_id=page[-1].get("id") if page else None,
        has_more=len(items) > limit,
    )
    return Response(_encode(listing), media_type="application/json")


responses_router = Router(
    path="/",
    route_handlers=[create_response, get_response, delete_response, input_items],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
)
