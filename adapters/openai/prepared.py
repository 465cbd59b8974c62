"""The POST the openai SDK builds, built once per path and deadline, sent on the SDK's client.

`AsyncOpenAI.post()` builds the same request again for every call: it copies its options
twice (pydantic), merges four layers of headers, parses the base URL and the path, and
asks its http client to merge its own defaults. That is ~40 % of the SDK call's CPU
(docs/performance.md, "The SDK's request, built once"), and for one base URL, path and
deadline it comes out the same every time but for the key.

So the SDK builds it once (`_build_request`, the method `post()` itself calls), and each
call sends a copy with the caller's key and body on the SDK's own http client
(`AsyncOpenAI._client`: its aiohttp transport, pool and timeouts). Failures come back as
`post()` raises them: a timeout as `APITimeoutError`, a lost connection as
`APIConnectionError`, a failed status as the SDK's own status error
(`_make_status_error_from_response`), each chained to its cause the same way.

What `post()` does besides is inert for the way the adapter drives the SDK: retries are
off; OpenAI sends no idempotency header; no workload identity, key provider or provider
runtime is configured, so their hooks return what they were given. tests/adapters/
test_openai_prepared.py holds the two side by side on a real socket: the same wire
request, header for header, and the same errors.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import anyio
import httpx2
import openai
from openai._models import FinalRequestOptions

__all__ = ["PreparedPosts"]

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
