"""Bytez model containers (`POST /run`, `GET /health`, one inference at a time) over httpx.

Chat streams upstream whatever the client asked (the answer is assembled from the events),
so a client that leaves closes the connection. Other tasks are one `POST /run` each, their
`output` passed on exactly as the container gave it; a streamed text-generation reads the
container's raw text stream. One adapter instance serves one pool (named `pool:<name>`);
each call's base URL is the chosen container.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import msgspec

from adapters.base import Capabilities, ChunkDecoder, EmbeddingCall, Timeouts, UpstreamCall, task_request
from adapters.bytez_worker.embeddings import to_vector
from adapters.bytez_worker.errors import classify_bytez_error
from adapters.bytez_worker.media import from_bytez_media, read_capped, run_bytez_media
from adapters.bytez_worker.request import to_bytez_chat_body, to_bytez_task_body
from adapters.bytez_worker.response import from_bytez_run
from adapters.bytez_worker.stream import BytezStreamDecoder, BytezWholeReply
from adapters.media_output import DEFAULT_MAX_OUTPUT_BYTES
from adapters.transport import decode_stream, read_reply
from adapters.workers import closing, collect_chat
from schemas.chat import ChatRequest, ChatResponse, Usage
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, GatewayError, UpstreamError
from schemas.events import StreamEvent
from schemas.media import MediaRequest
from schemas.tasks import MEDIA_OUTPUT_TASKS, TEXT_GENERATION, RunRequest, RunResponse

__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "BytezWorkerAdapter"]

_encode = msgspec.json.encode
_MAX_ERROR_BODY = 64 * 1024


class BytezWorkerAdapter:
    capabilities = Capabilities(
        tools=False, streamed_tool_arguments=False, json_object=False, json_schema=False, embeddings=True
    )

    def __init__(
        self,
        provider: str,
        http_client: httpx.AsyncClient | None = None,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self.name = provider
        self._http = http_client
        self.max_output_bytes = max_output_bytes

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            )
        return self._http

    async def _post(
        self,
        base_url: str | None,
        timeouts: Timeouts,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Open `POST /run`; a non-2xx answer is read (bounded) and raised, classified.
        `headers` are the call's extra ones: the W3C `traceparent` the pool's attempt span
        injects, as the OpenAI-protocol pools send it, so the container's spans join the trace."""
        client = self._client()
        request = client.build_request(
            "POST",
            f"{base_url or ''}/run",
            content=_encode(body),
            headers={**(headers or {}), "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect),
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamError(
                Code.TIMEOUT, f"{self.name} did not answer in time", provider=self.name
            ) from None
        except httpx.TransportError:
            raise UpstreamError(
                Code.CONNECTION, f"could not connect to {self.name}", provider=self.name
            ) from None
        if response.status_code >= 300:
            try:
                raw = await _read_bounded(response)
            finally:
                await response.aclose()
            raise classify_bytez_error(response.status_code, raw, self.name, response.headers)
        return response

    async def _read(
        self,
        base_url: str | None,
        timeouts: Timeouts,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        return await read_reply(await self._post(base_url, timeouts, body, headers), self.name)

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        async with closing(self.stream(call)) as events:
            return await collect_chat(events)

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        """A chat turn, or a streamed text-generation task: one container route, two bodies."""
        warnings: list[str] = []
        match call.request:
            case RunRequest(task=task) if task != TEXT_GENERATION:
                raise GatewayError(Code.UNSUPPORTED, f"{self.name} cannot stream {task}", provider=self.name)
            case RunRequest() as task_call:
                body = to_bytez_task_body(task_call, stream=True)
            case ChatRequest() as chat:
                body = to_bytez_chat_body(chat, self.name, warnings)
        response = await self._post(call.base_url, call.timeouts, body, call.headers)
        decoder: ChunkDecoder = (
            BytezWholeReply(self.name)
            if response.headers.get("content-type", "").startswith("application/json")
            else BytezStreamDecoder(self.name)
        )
        async for event in decode_stream(response, decoder, self.name, warnings):
            yield event

    async def run(self, call: UpstreamCall) -> RunResponse:
        request = task_request(call, self.name)
        if isinstance(request, MediaRequest):
            return await run_bytez_media(self, call, request)
        body = to_bytez_task_body(request, stream=False)
        if request.task not in MEDIA_OUTPUT_TASKS:
            raw = await self._read(call.base_url, call.timeouts, body, call.headers)
            return RunResponse(output=from_bytez_run(raw, self.name))
        response = await self._post(call.base_url, call.timeouts, body, call.headers)
        raw = await read_capped(response, self.name, self.max_output_bytes)
        media = from_bytez_media(raw, self.name, self.max_output_bytes, decode=request.raw_media)
        if media is None:  # a URL (or another output the container chose): passed on as it is
            return RunResponse(output=from_bytez_run(raw, self.name))
        del raw  # the base64 lives on in `media` alone
        if isinstance(media.data, bytes):
            return RunResponse(output=msgspec.Raw(b"null"), media=media)
        return RunResponse(output=msgspec.Raw(_encode({media.field: media.data})), media=media)

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        """One `POST /run` per text: a container runs one inference at a time anyway."""
        vectors: list[list[float]] = []
        for text in call.request.texts:
            body = {"text": text, "stream": False}
            raw = await self._read(call.base_url, call.timeouts, body, call.headers)
            output = msgspec.json.decode(from_bytez_run(raw, self.name))
            vectors.append(to_vector(output, self.name))
        return EmbeddingResponse(vectors=vectors, usage=Usage())

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


async def _read_bounded(response: httpx.Response) -> bytes:
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status alone still classifies the failure
    return body[:_MAX_ERROR_BODY]
