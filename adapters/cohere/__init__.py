"""Cohere v2 Chat through the official `cohere` SDK, driven below its model layer.

`client.with_raw_response.chat()` / `.chat_stream()` still build pydantic models (and the
stream variant silently skips events it cannot parse), so the adapter calls the SDK's own
HTTP helper instead: `AsyncClientV2._client_wrapper.httpx_client.request()` / `.stream()`.
That keeps the SDK's base-URL joining, headers and timeout handling while the body goes
out as bytes we encoded and comes back as bytes we decode with msgspec. The helper never
raises for a status, so the classifier reads status and body itself.

The key travels per request: `additional_headers` replaces the client's placeholder
`Authorization` (the SDK merges header names case-insensitively). Retries are off (dispatch
owns them); one SDK client per base URL over one shared `httpx.AsyncClient` pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import cohere
import httpx
import msgspec
from cohere.core.http_client import get_keepalive_socket_options
from cohere.core.request_options import RequestOptions

from adapters.base import Capabilities, EmbeddingCall, UpstreamCall, chat_request
from adapters.cohere.embeddings import from_cohere_embeddings, to_cohere_embeddings_body
from adapters.cohere.errors import PROVIDER, classify_cohere_error
from adapters.cohere.request import to_cohere_body
from adapters.cohere.response import from_cohere_response
from adapters.cohere.stream import CohereStreamDecoder
from adapters.transport import ClientCache, decode_stream, sse_data
from schemas.chat import ChatResponse
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent

__all__ = ["CohereAdapter"]

DEFAULT_BASE_URL = "https://api.cohere.com"
CHAT_PATH = "v2/chat"
EMBED_PATH = "v2/embed"
_encode = msgspec.json.encode


class CohereAdapter:
    name = PROVIDER
    capabilities = Capabilities(reasoning=True, embeddings=True)

    def __init__(
        self, default_base_url: str = DEFAULT_BASE_URL, http_client: httpx.AsyncClient | None = None
    ) -> None:
        self._default_base_url = default_base_url
        self._clients: ClientCache[str, httpx.AsyncClient, cohere.AsyncClientV2] = ClientCache(
            _pool, _build, pool=http_client
        )

    def _client(self, base_url: str | None) -> cohere.AsyncClientV2:
        return self._clients.get(base_url or self._default_base_url)

    def _options(self, call: UpstreamCall | EmbeddingCall) -> RequestOptions:
        # The SDK hands `timeout` straight to httpx, which takes an httpx.Timeout: that is
        # how the connect timeout differs from the rest (its TypedDict says float).
        options: dict[str, Any] = {
            "max_retries": 0,
            "timeout": httpx.Timeout(call.timeouts.total, connect=call.timeouts.connect),
            "additional_headers": {"Authorization": f"Bearer {call.api_key}"},
        }
        return cast(RequestOptions, options)

    def _body(self, call: UpstreamCall, warnings: list[str]) -> bytes:
        return _encode(to_cohere_body(chat_request(call, self.name), call.model, warnings))

    async def _post_json(self, call: UpstreamCall | EmbeddingCall, path: str, body: bytes) -> httpx.Response:
        """One JSON request and its whole JSON reply; a refusal becomes its classified error."""
        http = self._client(call.base_url)._client_wrapper.httpx_client
        try:
            response = await http.request(
                path,
                method="POST",
                content=body,
                headers={"content-type": "application/json", "accept": "application/json"},
                request_options=self._options(call),
            )
        except httpx.HTTPError as error:
            raise _transport_error(error) from None
        if response.status_code >= 400:
            raise classify_cohere_error(
                response.status_code, response.content, response.headers, call.api_key
            )
        return response

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        warnings: list[str] = []
        response = await self._post_json(call, CHAT_PATH, self._body(call, warnings))
        result = from_cohere_response(response.content, call.model)
        result.warnings = warnings
        return result

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        warnings: list[str] = []
        body = self._body(call, warnings)
        http = self._client(call.base_url)._client_wrapper.httpx_client
        decoder = sse_data(CohereStreamDecoder(call.model, call.api_key))
        receiving = False
        try:
            async with http.stream(
                CHAT_PATH,
                method="POST",
                content=body,
                headers={"content-type": "application/json", "accept": "text/event-stream"},
                request_options=self._options(call),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise classify_cohere_error(
                        response.status_code, response.content, response.headers, call.api_key
                    )
                _check_event_stream(response)
                receiving = True
                async for event in decode_stream(response, decoder, PROVIDER, warnings):
                    yield event
        except httpx.HTTPError as error:
            raise _transport_error(error, mid_stream=receiving) from None

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        body = _encode(to_cohere_embeddings_body(call.request, call.model))
        response = await self._post_json(call, EMBED_PATH, body)
        return from_cohere_embeddings(response.content, len(call.request.texts))

    async def aclose(self) -> None:
        await self._clients.aclose()


def _pool() -> httpx.AsyncClient:
    # TCP keepalive as the SDK's own default client has it, so a long non-streamed call
    # survives idle-connection reaping; no environment.
    transport = httpx.AsyncHTTPTransport(
        socket_options=get_keepalive_socket_options(),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
    )
    return httpx.AsyncClient(transport=transport, trust_env=False)


def _build(base_url: str, pool: httpx.AsyncClient) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(
        api_key="per-request",
        base_url=base_url,
        max_retries=0,
        httpx_client=pool,
        log_warning_experimental_features=False,
    )


def _check_event_stream(response: httpx.Response) -> None:
    """A 2xx that is not an event stream cannot be decoded as one (the SDK refuses it too)."""
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        raise UpstreamError(
            Code.SERVER_ERROR,
            f"{PROVIDER} answered a stream request with {content_type or 'no content type'}",
            provider=PROVIDER,
            upstream_status=response.status_code,
        )


def _transport_error(error: httpx.HTTPError, *, mid_stream: bool = False) -> UpstreamError:
    if isinstance(error, httpx.TimeoutException):
        text = "stopped sending before the stream finished" if mid_stream else "did not answer in time"
        return UpstreamError(Code.TIMEOUT, f"{PROVIDER} {text}", provider=PROVIDER)
    if isinstance(error, httpx.ConnectError):
        return UpstreamError(Code.CONNECTION, f"could not connect to {PROVIDER}", provider=PROVIDER)
    return UpstreamError(Code.CONNECTION, f"{PROVIDER} dropped the connection", provider=PROVIDER)
