"""OpenAI through the official `openai` SDK, below its model layer.

Every call sends our msgspec-encoded body on the SDK's own client: no request
transformation, no response model parsing, no per-call request building (the costly parts,
see docs/performance.md), while the SDK's transport, headers, timeouts and error classes
stay. Retries are off: dispatch owns them. The key travels per request in the Authorization
header; one client over one aiohttp pool per base URL.

The prepared POST (`PreparedPosts`, at the end of this module): `AsyncOpenAI.post()` builds
the same request again for every call: it copies its options twice (pydantic), merges four
layers of headers, parses the base URL and the path, and asks its http client to merge its
own defaults. That was ~40 % of the SDK call's CPU, and for one base URL, path and deadline
it comes out the same every time but for the key. So the SDK builds it once
(`_build_request`, the method `post()` itself calls), and each call sends a copy with the
caller's key and body on the SDK's own http client (`AsyncOpenAI._client`: its aiohttp
transport, pool and timeouts). Failures come back as `post()` raises them: a timeout as
`APITimeoutError`, a lost connection as `APIConnectionError`, a failed status as the SDK's
own status error (`_make_status_error_from_response`), each chained to its cause the same
way. What `post()` does besides is inert for the way the adapter drives the SDK: retries
are off; OpenAI sends no idempotency header; no workload identity, key provider or provider
runtime is configured, so their hooks return what they were given.
tests/adapters/test_openai_prepared.py holds the two side by side on a real socket: the
same wire request, header for header, and the same errors.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping

import anyio
import httpx2
import msgspec
import openai
from openai._models import FinalRequestOptions

from adapters.base import Capabilities, EmbeddingCall, UpstreamCall, chat_request
from adapters.openai.embeddings import from_openai_embeddings, to_openai_embeddings_body
from adapters.openai.errors import classify_openai_error_body
from adapters.openai.media import run_openai_media
from adapters.openai.native import NATIVE_PATHS, native_answer, native_body, native_decoder
from adapters.openai.request import Dialect, to_openai_body
from adapters.openai.response import from_openai_response
from adapters.openai.stream import OpenAIStreamDecoder
from adapters.transport import ClientCache, decode_stream, sse_data
from schemas.chat import ChatRequest, ChatResponse, OpenAINative
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent
from schemas.tasks import RunResponse

__all__ = ["OpenAIAdapter", "PreparedPosts"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_encode = msgspec.json.encode


class OpenAIAdapter:
    name = "openai"
    capabilities = Capabilities(audio=True, embeddings=True)

    def __init__(
        self,
        dialect: Dialect | None = None,
        default_base_url: str = DEFAULT_BASE_URL,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.dialect = dialect or Dialect()
        self.name = self.dialect.provider
        self._default_base_url = default_base_url
        self._clients: ClientCache[str, httpx2.AsyncClient, PreparedPosts] = ClientCache(
            _pool, _build, pool=http_client, close_client=_close
        )
        self.native_paths: frozenset[str] = NATIVE_PATHS if self.name == "openai" else frozenset()
        """OpenAI's own endpoints this backend serves for a body written for them."""

    def _client(self, base_url: str | None) -> openai.AsyncOpenAI:
        return self._clients.get(base_url or self._default_base_url).client

    def _key(self, call: UpstreamCall | EmbeddingCall) -> str:
        """The key the call goes out with (an empty one sends no Authorization header)."""
        return call.api_key

    async def _post(
        self, call: UpstreamCall | EmbeddingCall, path: str, body: bytes, stream: bool = False
    ) -> httpx2.Response:
        """The SDK's POST of our own bytes; its errors become our classified ones. Only the
        key, the deadline and a worker's traceparent (`call.headers`) differ per call;
        `stream=True` leaves the body unread."""
        posts = self._clients.get(call.base_url or self._default_base_url)
        timeouts = call.timeouts
        try:
            return await posts.post(
                path,
                body,
                self._key(call),
                total=timeouts.total,
                connect=timeouts.connect,
                headers=call.headers,
                stream=stream,
            )
        except openai.APIError as error:
            raise self._classify(error, call) from None

    def _body(self, request: ChatRequest, model: str, warnings: list[str]) -> bytes:
        return _encode(to_openai_body(request, model, self.dialect, warnings))

    def _native(self, request: ChatRequest) -> OpenAINative | None:
        """The caller's body for one of OpenAI's own endpoints, when this backend serves it."""
        native = request.openai_native
        return native if isinstance(native, OpenAINative) and native.path in self.native_paths else None

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        request = chat_request(call, self.name)
        native = self._native(request)
        if native is not None:
            response = await self._post(call, native.path, native_body(native, call.model, stream=False))
            return native_answer(native, response.content, self.name)
        warnings: list[str] = []
        response = await self._post(call, "/chat/completions", self._body(request, call.model, warnings))
        result = from_openai_response(response.content, self.name, self.dialect)
        result.warnings = warnings
        return result

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        request = chat_request(call, self.name)
        native = self._native(request)
        if native is not None:
            body = native_body(native, call.model, stream=True)
            response = await self._post(call, native.path, body, stream=True)
            frames = sse_data(native_decoder(native, self.name))
            async for event in decode_stream(response, frames, self.name):
                yield event
            return
        warnings: list[str] = []
        body = self._body(request, call.model, warnings)
        response = await self._post(call, "/chat/completions", body, stream=True)
        decoder = sse_data(OpenAIStreamDecoder(self.name, self.dialect))
        async for event in decode_stream(response, decoder, self.name, warnings):
            yield event

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        body = _encode(to_openai_embeddings_body(call.request, call.model))
        response = await self._post(call, "/embeddings", body)
        return from_openai_embeddings(response.content, self.name, len(call.request.texts))

    async def run(self, call: UpstreamCall) -> RunResponse:
        """Image generation, speech and transcription (adapters/openai/media.py)."""
        return await run_openai_media(self, call)

    def _classify(self, error: openai.APIError, call: UpstreamCall | EmbeddingCall) -> UpstreamError:
        if isinstance(error, openai.APITimeoutError) and not _refused(error):
            return UpstreamError(Code.TIMEOUT, f"{self.name} did not answer in time", provider=self.name)
        if isinstance(error, openai.APIConnectionError):
            return UpstreamError(Code.CONNECTION, f"could not connect to {self.name}", provider=self.name)
        if isinstance(error, openai.APIStatusError):
            response = error.response
            return classify_openai_error_body(
                response.status_code, response.content, self.name, response.headers, call.api_key
            )
        return UpstreamError(Code.SERVER_ERROR, f"{self.name} failed", provider=self.name)

    async def aclose(self) -> None:
        await self._clients.aclose()


def _pool() -> httpx2.AsyncClient:
    """One aiohttp pool under every base URL's client: the SDK's fastest transport."""
    return openai.DefaultAioHttpClient(
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=200)
    )


def _build(base_url: str, pool: httpx2.AsyncClient) -> PreparedPosts:
    client = openai.AsyncOpenAI(api_key="per-request", base_url=base_url, max_retries=0, http_client=pool)
    return PreparedPosts(client)


async def _close(posts: PreparedPosts) -> None:
    await posts.client.close()


def _refused(error: BaseException) -> bool:
    """The SDK's aiohttp transport reports a refused connection as a ConnectTimeout; the
    original OSError underneath tells the two apart."""
    cause = error.__cause__
    inner = (cause.__cause__ or cause.__context__) if cause is not None else None
    return isinstance(inner, OSError) and not isinstance(inner, TimeoutError)


# -- the prepared POST ------------------------------------------------------------------------

_PER_CALL = frozenset({b"authorization", b"content-length"})
"""Headers of the built request that each call writes itself (the key, the body's length)."""
_CONNECTION_ERRORS = (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream)
"""What the SDK's `request()` reports as `APIConnectionError` (openai/_httpx2.py)."""


class _Template:
    """One built request: its URL, its headers as bytes (Host first, as httpx2 puts it),
    and its timeout in the form httpx2 carries it."""

    __slots__ = ("host", "rest", "timeout", "url")

    def __init__(self, built: httpx2.Request, timeout: httpx2.Timeout) -> None:
        raw = [(name, value) for name, value in built.headers.raw if name.lower() not in _PER_CALL]
        self.url = built.url
        self.host = raw[0]
        self.rest = raw[1:]
        self.timeout = timeout.as_dict()


class PreparedPosts:
    """One SDK client's POSTs, by path and deadline."""

    __slots__ = ("_templates", "client")

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client
        """The SDK client: what builds the requests and sends them (and the adapter's
        other calls, such as multipart uploads, that go through `post()` itself)."""
        self._templates: dict[tuple[str, float, float], _Template] = {}

    def _template(self, path: str, total: float, connect: float) -> _Template:
        timeout = httpx2.Timeout(total, connect=connect)
        options = FinalRequestOptions.construct(
            method="post", url=path, content=b"", timeout=timeout, headers={"Authorization": "Bearer -"}
        )
        built = self.client._build_request(options)
        if built.headers.raw[0][0].lower() != b"host":
            raise RuntimeError("the openai SDK's request no longer starts with its Host header")
        template = self._templates[path, total, connect] = _Template(built, timeout)
        return template

    async def post(
        self,
        path: str,
        body: bytes,
        key: str,
        *,
        total: float,
        connect: float,
        headers: Mapping[str, str],
        stream: bool,
    ) -> httpx2.Response:
        """The SDK's POST of `body` with `key` (none: no Authorization header); `headers` go
        on top (a worker's traceparent)."""
        template = self._templates.get((path, total, connect)) or self._template(path, total, connect)
        sent = [template.host, (b"Content-Length", str(len(body)).encode())]
        if headers:
            replaced = {name.lower().encode() for name in headers}
            sent += [header for header in template.rest if header[0].lower() not in replaced]
            sent += [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
        else:
            sent += template.rest
        if key:
            sent.append((b"Authorization", f"Bearer {key}".encode("ascii")))  # as httpx2 encodes it
        # The headers are complete (Host and Content-Length included), so the body goes in
        # as a stream httpx2 adds nothing to, and is read into the request at once.
        request = httpx2.Request(
            "POST",
            template.url,
            headers=sent,
            stream=httpx2.ByteStream(body),
            extensions={"timeout": template.timeout},
        )
        request.read()
        http = self.client._client
        try:
            response = await http.send(request, stream=stream)
        except httpx2.TimeoutException as error:
            raise openai.APITimeoutError(request=request) from error
        except _CONNECTION_ERRORS as error:
            raise openai.APIConnectionError(request=request) from error
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise self.client._make_status_error_from_response(response) from None
        return response
