"""Google Gemini (Developer API) through the official `google-genai` SDK, below its models layer.

`client.aio.models.generate_content` validates the request into pydantic models, converts it
field by field (sending a mix of snake_case and camelCase) and parses the reply into pydantic
objects; `should_return_http_response=True` skips only the reply parsing, and the streaming
call has no raw mode at all (it raises ValueError). One layer down, the SDK's BaseApiClient
does the transport: `_build_request` applies the base URL, the pinned API version and the
per-call headers; `_async_request(..., stream=True)` sends through the SDK's httpx2 client
with its retry policy (off: one attempt unless `retry_options` are given), raises the SDK's
`errors.APIError` for any non-200, and hands back the unread response. So both modes read raw
bytes, and the body we built goes out byte for byte. The two methods are underscored: the SDK
version is pinned and tests/adapters/test_gemini.py runs them against the fake.

The key travels per call as `x-goog-api-key` in the call's HttpOptions, which overrides the
placeholder on the shared client (same header name, so one header goes out). One
`genai.Client` per base URL, all on one httpx2 pool; giving the SDK that pool also keeps it off
its aiohttp path, which retries a refused connection after a silent 1–10 s sleep.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx2
import msgspec
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from adapters.base import Capabilities, ChunkDecoder, EmbeddingCall, UpstreamCall, chat_request
from adapters.gemini.embeddings import from_gemini_embeddings, to_gemini_embeddings_body
from adapters.gemini.errors import classify_gemini_error_body
from adapters.gemini.media_out import run_gemini_image
from adapters.gemini.model_names import gemini_model_path
from adapters.gemini.request import to_gemini_body
from adapters.gemini.response import from_gemini_response
from adapters.gemini.stream import GeminiEventStream, GeminiStreamDecoder, GeminiWholeStream
from adapters.transport import ClientCache, decode_stream, read_reply
from schemas.chat import ChatResponse
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent
from schemas.tasks import RunResponse

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "GeminiAdapter", "split_gemini_base_url"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
"""Pinned, not the SDK's default (`v1` since 3.x, or GOOGLE_GENAI_API_VERSION): v1beta carries
every field this adapter sends (`parametersJsonSchema`, `responseJsonSchema`, thinking) and
the preview models, which may exist only there; most Gemini clients in the field use it."""
_API_VERSIONS = ("v1", "v1beta", "v1alpha")
_PLACEHOLDER_KEY = "per-call"
_encode = msgspec.json.encode


def split_gemini_base_url(url: str, default_version: str = DEFAULT_API_VERSION) -> tuple[str, str]:
    """`https://host/v1beta` → (`https://host/`, `v1beta`): a configured base URL may name the
    API version the way other clients write it; without one the pinned version applies."""
    root = url.rstrip("/")
    head, _, last = root.rpartition("/")
    if last in _API_VERSIONS and "://" in head:
        return head + "/", last
    return root + "/", default_version


class GeminiAdapter:
    name = "gemini"
    capabilities = Capabilities(audio=True, video=True, reasoning=True, embeddings=True)

    def __init__(
        self, api_version: str = DEFAULT_API_VERSION, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._api_version = api_version
        self._clients: ClientCache[tuple[str, str], httpx2.AsyncClient, genai.Client] = ClientCache(
            self._pool, self._build, pool=http_client, close_client=_close
        )
        self._sync_client: httpx2.Client | None = None
        self._ssl_context: ssl.SSLContext | None = None

    def _client(self, base_url: str | None) -> genai.Client:
        return self._clients.get(split_gemini_base_url(base_url or DEFAULT_BASE_URL, self._api_version))

    def _pool(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            verify=self._tls_context(),
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=200),
        )

    def _build(self, key: tuple[str, str], pool: httpx2.AsyncClient) -> genai.Client:
        root, version = key
        if self._sync_client is None:
            self._sync_client = httpx2.Client(verify=self._tls_context())
        # Every argument explicit, so the SDK's environment defaults (GOOGLE_API_KEY,
        # GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GEMINI_BASE_URL, ...) never apply. The SDK
        # builds a sync client and a websocket TLS context for every genai.Client unless
        # given them: ~0.3 s of certificate loading on the event loop, per base URL.
        return genai.Client(
            vertexai=False,
            api_key=_PLACEHOLDER_KEY,
            http_options=genai_types.HttpOptions(
                base_url=root,
                api_version=version,
                httpx_async_client=pool,
                httpx_client=self._sync_client,
                async_client_args={"ssl": self._tls_context()},
            ),
        )

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx2.create_ssl_context()
        return self._ssl_context

    async def _send(
        self, call: UpstreamCall | EmbeddingCall, body: bytes, stream: bool, method: str | None = None
    ) -> httpx2.Response:
        api = self._client(call.base_url)._api_client
        options = genai_types.HttpOptions(
            headers={"x-goog-api-key": call.api_key}, timeout=max(1, round(call.timeouts.total * 1000))
        )
        method = method or ("streamGenerateContent?alt=sse" if stream else "generateContent")
        request = api._build_request("post", f"{gemini_model_path(call.model)}:{method}", {}, options)
        request.data = body
        # httpx takes a Timeout wherever the SDK passes its float through: this keeps the
        # connect timeout apart from the total, which HttpOptions cannot express.
        request.timeout = httpx2.Timeout(call.timeouts.total, connect=call.timeouts.connect)  # type: ignore[assignment]
        try:
            sent = await api._async_request(request, options, stream=True)
        except genai_errors.APIError as error:
            raise self._classify(error, call) from None
        except httpx2.TimeoutException:
            raise UpstreamError(
                Code.TIMEOUT, f"{self.name} did not answer in time", provider=self.name
            ) from None
        except httpx2.TransportError:
            raise UpstreamError(
                Code.CONNECTION, f"could not connect to {self.name}", provider=self.name
            ) from None
        response = sent.response_stream
        if not isinstance(response, httpx2.Response):
            raise UpstreamError(
                Code.INTERNAL, "the google-genai SDK left its httpx2 transport", provider=self.name
            )
        return response

    def _body(self, call: UpstreamCall, warnings: list[str]) -> bytes:
        return _encode(to_gemini_body(chat_request(call, self.name), warnings))

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        warnings: list[str] = []
        response = await self._send(call, self._body(call, warnings), stream=False)
        raw = await read_reply(response, self.name)
        result = from_gemini_response(raw, self.name, call.model, call.api_key)
        result.warnings = warnings
        return result

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        warnings: list[str] = []
        response = await self._send(call, self._body(call, warnings), stream=True)
        decoder = GeminiStreamDecoder(self.name, call.model, (call.api_key,))
        chunks: ChunkDecoder = (
            GeminiWholeStream(decoder)
            if "json" in response.headers.get("content-type", "")
            else GeminiEventStream(decoder, (call.api_key,))
        )
        async for event in decode_stream(response, chunks, self.name, warnings):
            yield event

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        body = _encode(to_gemini_embeddings_body(call.request, call.model))
        response = await self._send(call, body, stream=False, method="batchEmbedContents")
        raw = await read_reply(response, self.name)
        return from_gemini_embeddings(raw, len(call.request.texts))

    async def run(self, call: UpstreamCall) -> RunResponse:
        """Image output (adapters/gemini/media_out.py)."""
        return await run_gemini_image(self, call)

    def _classify(self, error: genai_errors.APIError, call: UpstreamCall | EmbeddingCall) -> UpstreamError:
        response = error.response
        if isinstance(response, httpx2.Response):
            return classify_gemini_error_body(
                response.status_code, response.content, self.name, response.headers, call.api_key
            )
        return classify_gemini_error_body(error.code, _encode(error.details), self.name, {}, call.api_key)

    async def aclose(self) -> None:
        await self._clients.aclose()
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None


async def _close(client: genai.Client) -> None:
    await client.aio.aclose()
    client.close()
