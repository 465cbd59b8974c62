"""Mistral (La Plateforme) through the official `mistralai` SDK, below its model layer.

The SDK has no raw mode: `chat.complete_async` validates the request into pydantic models
and parses the reply into them, and `chat.stream_async` parses every chunk. So the adapter
drives the SDK's own request machinery one level down (`_build_request_async` and
`do_request_async`, what `complete_async` itself calls): the SDK still builds the URL,
headers, auth and timeout, runs its hooks and sends on its client, but the body is our
msgspec-encoded bytes and the reply comes back as an httpx2 response we decode ourselves.

The caller's key travels as the SDK's per-call `security`; the shared SDK object holds no
key of its own (it raises if anything ever asks it for one), so one caller's key cannot
reach another's request and the SDK never falls back to `MISTRAL_API_KEY`. Retries are
off (no retry config is ever passed): dispatch owns them. One SDK object and one pool
serve every base URL, which travels per call as the SDK's `server_url`.

One SDK hook is left out: `DeprecationWarningHook` reads the JSON body of any reply that
carries `x-model-deprecation-timestamp`, which on a stream raises `ResponseNotRead` (SDK
3.7.0) and would break every stream of a deprecated model. The deprecation goes to the
caller instead of the SDK's log line, in the warnings (`ChatResponse` or the `Start` event).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import msgspec
from mistralai.client import Mistral, models, utils
from mistralai.client._hooks import HookContext
from mistralai.client._hooks.deprecation_warning import (
    HEADER_MODEL_DEPRECATION_TIMESTAMP,
    DeprecationWarningHook,
)
from mistralai.client.chat import Chat
from mistralai.client.errors import MistralError, NoResponseError
from mistralai.client.utils import SerializedRequestBody

from adapters.base import Capabilities, EmbeddingCall, UpstreamCall, chat_request
from adapters.mistral.embeddings import to_mistral_embeddings_body
from adapters.mistral.errors import classify_mistral_error
from adapters.mistral.request import PROVIDER, to_mistral_body
from adapters.mistral.response import from_mistral_response
from adapters.mistral.stream import mistral_stream_decoder
from adapters.openai.embeddings import from_openai_embeddings
from adapters.transport import decode_stream, sse_data
from schemas.chat import ChatResponse
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, UpstreamError
from schemas.events import StreamEvent

__all__ = ["DEFAULT_BASE_URL", "MistralAdapter"]

DEFAULT_BASE_URL = "https://api.mistral.ai"
_PATH = "/v1/chat/completions"
_EMBEDDINGS_PATH = "/v1/embeddings"
_OPERATIONS = {
    _PATH: "chat_completion_v1_chat_completions_post",
    _EMBEDDINGS_PATH: "embeddings_v1_embeddings_post",
}
_JSON = "application/json"
_STREAM = "text/event-stream"
_encode = msgspec.json.encode


def _no_shared_key() -> str:
    raise RuntimeError("the shared Mistral client has no key: pass the caller's key per request")


def _is_error(status: int) -> bool:
    return utils.match_status_codes(["4XX", "5XX"], status)


def _deprecation(response: httpx2.Response, model: str) -> list[str]:
    removal = response.headers.get(HEADER_MODEL_DEPRECATION_TIMESTAMP)
    return [f"{PROVIDER} deprecated the model {model}; it will be removed on {removal}"] if removal else []


def _media_type(response: httpx2.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class MistralAdapter:
    name = PROVIDER
    capabilities = Capabilities(audio=True, reasoning=True, embeddings=True)

    def __init__(
        self, default_base_url: str = DEFAULT_BASE_URL, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._default_base_url = default_base_url
        self._http_client = http_client
        self._sync_client: httpx2.Client | None = None
        self._sdk: Mistral | None = None

    def _chat(self) -> Chat:
        """Created on first use, inside the event loop that will drive it."""
        if self._sdk is None:
            if self._http_client is None:
                self._http_client = httpx2.AsyncClient(
                    limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=200)
                )
            self._sync_client = httpx2.Client()
            self._sdk = Mistral(
                api_key=_no_shared_key,
                server_url=self._default_base_url,
                client=self._sync_client,
                async_client=self._http_client,
            )
            hooks = self._sdk.sdk_configuration.__dict__["_hooks"]
            hooks.after_success_hooks = [
                hook for hook in hooks.after_success_hooks if not isinstance(hook, DeprecationWarningHook)
            ]
        return self._sdk.chat

    def _request(
        self, chat: Chat, call: UpstreamCall | EmbeddingCall, body: bytes, stream: bool, path: str = _PATH
    ) -> tuple[httpx2.Request, HookContext]:
        """What `complete_async` / `stream_async` build, minus their pydantic request model."""
        base_url = (call.base_url or self._default_base_url).rstrip("/")
        security = models.Security(api_key=call.api_key)
        request = chat._build_request_async(
            method="POST",
            path=path,
            base_url=base_url,
            url_variables=None,
            request=None,
            request_body_required=True,
            request_has_path_params=False,
            request_has_query_params=False,
            user_agent_header="user-agent",
            accept_header_value=_STREAM if stream else _JSON,
            security=security,
            get_serialized_body=lambda: SerializedRequestBody(media_type=_JSON, content=body),
            timeout_ms=int(call.timeouts.total * 1000),
        )
        # The SDK takes one number for every phase; the call has its own connect timeout.
        timeout = httpx2.Timeout(call.timeouts.total, connect=call.timeouts.connect)
        request.extensions["timeout"] = timeout.as_dict()
        context = HookContext(
            config=chat.sdk_configuration,
            base_url=base_url,
            operation_id="stream_chat" if stream else _OPERATIONS[path],
            oauth2_scopes=None,
            security_source=security,
            tags=["chat"],
            extensions=None,
        )
        return request, context

    async def _send(
        self, call: UpstreamCall | EmbeddingCall, body: bytes, *, stream: bool, path: str = _PATH
    ) -> httpx2.Response:
        """The reply, once its status and Content-Type say it is the one asked for."""
        chat = self._chat()
        request, context = self._request(chat, call, body, stream, path)
        expected = _STREAM if stream else _JSON
        try:
            response = await chat.do_request_async(
                context, request, _is_error, stream=stream, retry_config=None
            )
            if response.status_code < 400 and _media_type(response) == expected:
                return response
            try:
                raw = await response.aread()
            finally:
                await response.aclose()
        except httpx2.TimeoutException:
            raise UpstreamError(
                Code.TIMEOUT, f"{PROVIDER} did not answer in time", provider=PROVIDER
            ) from None
        except (httpx2.TransportError, NoResponseError):
            raise UpstreamError(
                Code.CONNECTION, f"could not connect to {PROVIDER}", provider=PROVIDER
            ) from None
        except MistralError as error:
            raise classify_mistral_error(
                error.status_code, error.body.encode(), PROVIDER, error.headers, call.api_key
            ) from None
        if response.status_code >= 400:
            raise classify_mistral_error(response.status_code, raw, PROVIDER, response.headers, call.api_key)
        raise UpstreamError(
            Code.SERVER_ERROR,
            f"{PROVIDER} answered {_media_type(response) or 'no Content-Type'}, not {expected}",
            provider=PROVIDER,
            upstream_status=response.status_code,
        )

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        warnings: list[str] = []
        body = _encode(to_mistral_body(chat_request(call, self.name), call.model, warnings))
        response = await self._send(call, body, stream=False)
        result = from_mistral_response(response.content)
        result.warnings = warnings + _deprecation(response, call.model)
        return result

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        warnings: list[str] = []
        body = _encode(to_mistral_body(chat_request(call, self.name), call.model, warnings))
        response = await self._send(call, body, stream=True)
        warnings += _deprecation(response, call.model)
        decoder = sse_data(mistral_stream_decoder())
        async for event in decode_stream(response, decoder, PROVIDER, warnings):
            yield event

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        body = _encode(to_mistral_embeddings_body(call.request, call.model))
        response = await self._send(call, body, stream=False, path=_EMBEDDINGS_PATH)
        return from_openai_embeddings(response.content, PROVIDER, len(call.request.texts))

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None
        self._sdk = None
