"""Anthropic Messages through the official `anthropic` SDK (2.x), driven in its raw mode.

The SDK's low-level `post()` with `cast_to=httpx2.Response` skips `messages.create()`'s
request transformation, its client-side checks and its pydantic parsing, while keeping the
SDK's transport, headers (`anthropic-version: 2026-10-21`), timeouts and error classes. The
body is our own msgspec-encoded bytes; replies are decoded with msgspec wire Structs.

- Retries are off (`max_retries=0`): dispatch owns them.
- The key travels per request as `Authorization: Bearer <key>`, what SDK 2.x sends for an
  API key; the shared client holds a placeholder, so one caller's key never reaches another.
- One SDK client per base URL over one shared aiohttp pool, created on first use (inside the
  event loop), so the adapter can be constructed anywhere.
- OpenTelemetry tracing is off: the gateway logs and meters calls itself, and with the option
  left unset the SDK would read its tracing settings from the environment.
- `max_tokens` is required by Anthropic: a request without one gets 4096 (see request.py).
- The caller's `anthropic-beta` names (`ChatRequest.anthropic_betas`) go in that header, and
  no others: the gateway asks for no beta of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import msgspec
from msgspec import UNSET

from adapters.anthropic.errors import classify_anthropic_error_body
from adapters.anthropic.request import DEFAULT_MAX_TOKENS, to_anthropic_body
from adapters.anthropic.response import from_anthropic_response
from adapters.anthropic.stream import AnthropicStreamDecoder
from adapters.base import Capabilities, UpstreamCall, chat_request
from adapters.transport import ClientCache, decode_stream, sse_named
from schemas.chat import ChatRequest, ChatResponse
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_TOKENS", "AnthropicAdapter"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
_PATH = "/v1/messages"
_COUNT_PATH = "/v1/messages/count_tokens"
_COUNTED_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config"}
)
"""What the token-counting endpoint takes; the rest of a Messages body (max_tokens, stop
sequences, metadata, ...) does not change the input's size and it refuses them."""
_encode = msgspec.json.encode


class AnthropicAdapter:
    name = "anthropic"
    capabilities = Capabilities(reasoning=True)

    def __init__(
        self, default_base_url: str = DEFAULT_BASE_URL, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._default_base_url = default_base_url
        self._clients: ClientCache[str, httpx2.AsyncClient, anthropic.AsyncAnthropic] = ClientCache(
            _pool, _build, pool=http_client
        )

    def _client(self, base_url: str | None) -> anthropic.AsyncAnthropic:
        return self._clients.get(base_url or self._default_base_url)

    def _options(self, call: UpstreamCall, request: ChatRequest) -> anthropic.RequestOptions:
        headers = {"Authorization": f"Bearer {call.api_key}", "Content-Type": "application/json"}
        betas = request.anthropic_betas
        if betas is not UNSET and betas:
            headers["anthropic-beta"] = ",".join(betas)
        timeout = httpx2.Timeout(call.timeouts.total, connect=call.timeouts.connect)
        return {"headers": headers, "timeout": timeout, "max_retries": 0}

    async def _post(
        self, call: UpstreamCall, request: ChatRequest, body: dict[str, Any], stream: bool, path: str = _PATH
    ) -> httpx2.Response:
        client = self._client(call.base_url)
        try:
            return await client.post(
                path,
                cast_to=httpx2.Response,
                content=_encode(body),
                options=self._options(call, request),
                stream=stream,
            )
        except anthropic.APIError as error:
            raise self._classify(error, call) from None

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        request = chat_request(call, self.name)
        warnings: list[str] = []
        body = to_anthropic_body(request, call.model, warnings)
        body.pop("stream", None)
        response = await self._post(call, request, body, stream=False)
        result = from_anthropic_response(response.content, self.name)
        result.warnings = warnings
        return result

    async def count_tokens(self, call: UpstreamCall) -> int:
        """Anthropic's own count of the request's input tokens (free, rate-limited apart)."""
        request = chat_request(call, self.name)
        body = to_anthropic_body(request, call.model, [])
        counted = {name: value for name, value in body.items() if name in _COUNTED_FIELDS}
        response = await self._post(call, request, counted, stream=False, path=_COUNT_PATH)
        try:
            return int(msgspec.json.decode(response.content)["input_tokens"])
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            raise UpstreamError(
                Code.SERVER_ERROR, f"{self.name} sent an unreadable token count", provider=self.name
            ) from None

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        request = chat_request(call, self.name)
        warnings: list[str] = []
        body = to_anthropic_body(request, call.model, warnings)
        body["stream"] = True
        response = await self._post(call, request, body, stream=True)
        decoder = sse_named(AnthropicStreamDecoder(self.name))
        async for event in decode_stream(response, decoder, self.name, warnings):
            yield event

    def _classify(self, error: anthropic.APIError, call: UpstreamCall) -> UpstreamError:
        if isinstance(error, anthropic.APITimeoutError):
            return UpstreamError(Code.TIMEOUT, f"{self.name} did not answer in time", provider=self.name)
        if isinstance(error, anthropic.APIConnectionError):
            return UpstreamError(Code.CONNECTION, f"could not connect to {self.name}", provider=self.name)
        if isinstance(error, anthropic.APIStatusError):
            response = error.response
            return classify_anthropic_error_body(
                response.status_code, response.content, self.name, response.headers, call.api_key
            )
        return UpstreamError(Code.SERVER_ERROR, f"{self.name} failed", provider=self.name)

    async def aclose(self) -> None:
        """The SDK clients share one pool; closing it once closes them all."""
        await self._clients.aclose()


def _pool() -> httpx2.AsyncClient:
    return anthropic.DefaultAioHttpClient(
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=200)
    )


def _build(base_url: str, pool: httpx2.AsyncClient) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="per-request", base_url=base_url, max_retries=0, http_client=pool, open_telemetry=False
    )
