"""OpenAI's media endpoints: `/v1/images/generations`, `/v1/audio/speech`,
`/v1/audio/transcriptions` (also under `/models/v2/openai/v1/`), for every routed media
model whatever serves it: OpenAI itself and OpenAI-protocol pools get the client's body
passed through; a Bytez container gets the task request it reads, and its answer is
translated back (proxy/surfaces/openai/media_encode.py). Dispatch runs each as a task
(`Dispatcher.run_task`): the attempts, failover, the ledger row and billing are chat's.

Before anything is sent, the route must be able to run the endpoint: a Bytez container
declared another task, or a vendor without such an endpoint, is a 400 naming both.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream
from msgspec import UNSET

from proxy.accounting.metering import billing_headers
from proxy.dispatch.call import CallContext
from proxy.gateway import Gateway
from proxy.identity.keys import KeyRecord
from proxy.routing.routes import Resolution
from proxy.server.answers import Answer, EventStream
from proxy.surfaces.intake import call_context, read_json_object, resolve
from proxy.surfaces.media_routing import fetch_for_vendors
from proxy.surfaces.openai.media_decode import (
    image_request,
    speech_request,
    transcription_from_form,
    transcription_from_json,
)
from proxy.surfaces.openai.media_encode import to_images_response, to_speech, to_transcription
from proxy.surfaces.warnings import warnings_header
from schemas.errors import Code, GatewayError
from schemas.media import OPERATION_TASKS, VENDOR_MEDIA_TASKS, MediaRequest
from schemas.tasks import TaskResult

PREFIXES = ("/v1", "/models/v2/openai/v1")
_ENDPOINTS = {
    "images": "/v1/images/generations",
    "speech": "/v1/audio/speech",
    "transcriptions": "/v1/audio/transcriptions",
}


def _paths(suffix: str) -> list[str]:
    return [prefix + suffix for prefix in PREFIXES]


def check_targets(gateway: Gateway, resolution: Resolution, request: MediaRequest) -> None:
    """Refuse, before any call, a route whose targets cannot run this endpoint."""
    tasks = OPERATION_TASKS[request.operation]
    endpoint = _ENDPOINTS[request.operation]
    runs = " or ".join(sorted(tasks))
    protocols = {pool.name: pool.protocol for pool in gateway.settings.config.pools}
    for target in resolution.targets:
        if target.pool is not None:
            if protocols.get(target.pool) == "bytez" and resolution.task not in tasks:
                raise GatewayError(
                    Code.INVALID_REQUEST,
                    f"{resolution.model_id} is a {resolution.task} model; {endpoint} runs {runs} models",
                )
            continue
        provider = target.provider or ""
        if not tasks & VENDOR_MEDIA_TASKS.get(provider, frozenset()):
            raise GatewayError(
                Code.UNSUPPORTED, f"{resolution.model_id} is routed to {provider}, which has no {endpoint}"
            )
        known = gateway.catalogue.for_target(provider, target.model)
        if known is not None and known.task not in tasks:
            raise GatewayError(
                Code.INVALID_REQUEST,
                f"{resolution.model_id} is a {known.task} model; {endpoint} runs {runs} models",
            )


async def _run(
    gateway: Gateway, request: Request[Any, Any, Any], key: KeyRecord, media: MediaRequest
) -> tuple[TaskResult, CallContext]:
    resolution = resolve(gateway, media.model)
    check_targets(gateway, resolution, media)
    if media.url is not UNSET:
        fetched = await fetch_for_vendors(gateway, resolution, media)
        assert isinstance(fetched, MediaRequest)
        media = fetched
    context = call_context(key, media.model, request)
    return await gateway.dispatcher.run_task(media, resolution, context), context


def _headers(done: TaskResult, context: CallContext, warnings: list[str]) -> dict[str, str]:
    return {
        **billing_headers(done.billing),
        **warnings_header([*done.response.warnings, *warnings]),
        "X-Request-Id": context.request_id,
    }


@post(_paths("/images/generations"), name="openai_images", status_code=200)
async def images(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    media = image_request(read_json_object(await request.body()))
    done, context = await _run(gateway, request, key, media)
    body, warnings = to_images_response(done.response, media, done.provider)
    return Answer(body, media_type="application/json", headers=_headers(done, context, warnings))


@post(_paths("/audio/speech"), name="openai_speech", status_code=200)
async def speech(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes] | Stream:
    media = speech_request(read_json_object(await request.body()))
    done, context = await _run(gateway, request, key, media)
    audio, content_type, warnings = to_speech(done.response, media, done.provider)
    if not isinstance(audio, bytes):
        return EventStream(audio, media_type=content_type, headers=_headers(done, context, warnings))
    return Answer(audio, media_type=content_type, headers=_headers(done, context, warnings))


@post(
    _paths("/audio/transcriptions"),
    name="openai_transcriptions",
    status_code=200,
    request_max_body_size=None,  # the body guard caps an upload at [media] max_upload_bytes
)
async def transcriptions(
    request: Request[Any, Any, Any], gateway: NamedDependency[Gateway], key: NamedDependency[KeyRecord]
) -> Response[bytes]:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        media = await transcription_from_form({name: form.getall(name) for name in form})
    else:
        fields = read_json_object(await request.body())
        media = transcription_from_json(fields, gateway.settings.config.media.max_bytes)
    done, context = await _run(gateway, request, key, media)
    body, answer_type = to_transcription(done.response, media, done.provider)
    return Answer(body, media_type=answer_type, headers=_headers(done, context, []))


MEDIA_HANDLERS = [images, speech, transcriptions]
