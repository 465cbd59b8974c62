"""The Anthropic-compatible handler: `POST /v1/messages`, with streaming, tool use and thinking,
for any routed model. `x-api-key` or `Authorization: Bearer` carries the unigate key (SDK 2.x
sends Bearer), and `Provider-Key` the vendor's, as on the other surfaces. The `anthropic-beta`
header's names travel with the call, to an Anthropic target only; the `?beta=true` that
Claude Code and the SDK's `beta.messages` add to the path changes nothing here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.response import Stream

from adapters.base import Timeouts, TokenCounter, UpstreamCall
from proxy.accounting.budgets import input_tokens
from proxy.accounting.metering import billing_headers
from proxy.front_door import KEY_OR_API_KEY
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.identity.request import first_target_access, provider_keys
from proxy.server.answers import Answer, EventStream
from proxy.surfaces.anthropic.decode import to_chat_request
from proxy.surfaces.anthropic.encode import EventEncoder, anthropic_events, to_message
from proxy.surfaces.anthropic.errors import EXCEPTION_HANDLERS
from proxy.surfaces.intake import (
    call_context,
    convert,
    first_provider,
    read_json_object,
    resolve,
)
from proxy.surfaces.native.encode import SSE_HEADERS
from proxy.surfaces.warnings import opened, warnings_header
from schemas.anthropic_surface import MessagesBody

_encode = msgspec.json.encode


@post(["/v1/messages", "/models/v2/anthropic/v1/messages"], name="anthropic_messages", status_code=200)
async def messages(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes] | Stream:
    fields = read_json_object(await request.body())
    body = convert(fields, MessagesBody)
    resolution = resolve(gateway, body.model)
    chat = to_chat_request(body.model, body, fields, request.headers.get("anthropic-beta"))
    context = call_context(key, body.model, request)
    message_id = f"msg_{context.request_id}"
    response_headers = {"X-Request-Id": context.request_id, "request-id": context.request_id}
    if chat.stream:
        warnings, events = await opened(await gateway.dispatcher.stream(chat, resolution, context))
        return EventStream(
            anthropic_events(events, EventEncoder(message_id, body.model)),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **warnings_header(warnings), **response_headers},
        )
    done = await gateway.dispatcher.complete(chat, resolution, context)
    return Answer(
        _encode(to_message(done, message_id, body.model)),
        media_type="application/json",
        headers={
            **billing_headers(done.billing),
            **warnings_header(done.response.warnings),
            **response_headers,
        },
    )


@post(
    ["/v1/messages/count_tokens", "/models/v2/anthropic/v1/messages/count_tokens"],
    name="anthropic_count_tokens",
    status_code=200,
)
async def count_tokens(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    """`{"input_tokens": N}` for a Messages body (no `max_tokens` needed). Anthropic counts its
    own models' tokens, for free; for a model routed elsewhere the answer is an upper estimate
    from the body's size, said so in `Token-Count: estimated`. No ledger row: nothing is spent."""
    headers = request.headers
    fields = read_json_object(await request.body())
    fields.setdefault("max_tokens", 1)
    body = convert(fields, MessagesBody)
    resolution = resolve(gateway, body.model)
    provider = first_provider(resolution)
    chat = to_chat_request(body.model, body, fields, headers.get("anthropic-beta"))
    # the adapter by the contract it offers, not its class: importing the class would load the SDK
    adapter: object = gateway.adapters.get(provider) if provider == "anthropic" else None
    if isinstance(adapter, TokenCounter):
        config = gateway.settings.config
        api_key, base_url = first_target_access(
            config, "anthropic", provider_keys(headers.items()), resolution.key_owner
        )
        timeouts = config.dispatch.timeouts
        call = UpstreamCall(
            request=chat,
            model=resolution.targets[0].model,
            api_key=api_key,
            base_url=base_url,
            timeouts=Timeouts(connect=timeouts.connect, total=timeouts.first_byte),
        )
        counted, source = await adapter.count_tokens(call), "anthropic"
    else:
        counted, source = input_tokens(chat), "estimated"
    return Response(
        _encode({"input_tokens": counted}), media_type="application/json", headers={"Token-Count": source}
    )


anthropic_router = Router(
    path="/",
    route_handlers=[messages, count_tokens],
    dependencies=KEY_OR_API_KEY,
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
)
