"""What a request must look like before any handler, limiter or vendor sees it: the checks
the front door (proxy/front_door.py) runs on every request, so every surface gets them.

- Headers (`check_headers`, before the limits): a header name or value holding CR, LF or
  NUL is refused (400), a value or a header block over its cap too (431); it hands back the
  request's credential values so log redaction (proxy/server/redaction.py) removes them
  exactly.
- The body (`read_body` then `check_json`): read by the front door itself, so it can answer
  413 as soon as the declared length, or the bytes a chunked body has sent so far, pass the
  cap, without reading the rest; then checked to be UTF-8, nested at most `max_json_depth`
  deep and free of duplicate keys (400), and replayed to the handler (`replay`). Every body
  is checked whatever its Content-Type: every handler parses its body as JSON without asking
  what the client called it, so a body sent as `application/xml` or `octet-stream` must not
  walk past the checks into a decoder (a 500, or one of two duplicate values). The one
  exception is a file upload (`is_upload`): `multipart/form-data` to a path in
  `UPLOAD_PATHS` (OpenAI's `/v1/audio/transcriptions`) is capped by
  `[media] max_upload_bytes` instead and left to that handler's multipart parser, which
  reads nothing as JSON.

The depth check runs before any recursive parser sees the body, so nesting can never
raise a RecursionError (a 500) in a handler's decoder; all checks are linear in the
body, which is capped. Duplicate keys are refused because two parsers may pick
different values for them (the class of parser-differential bugs).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from litestar.types import HTTPRequestEvent, Receive, ReceiveMessage, Scope

from proxy.server.redaction import MIN_SECRET
from schemas.config import Config
from schemas.errors import Code, GatewayError

_FORBIDDEN = re.compile(rb"[\r\n\x00]")
_NOT_PRINTABLE_ASCII = re.compile(rb"[^\x20-\x7e]")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CREDENTIAL_HEADERS = frozenset(
    {b"authorization", b"provider-key", b"x-api-key", b"x-goog-api-key", b"api-key", b"proxy-authorization"}
)
UPLOAD_PATHS = frozenset({"/v1/audio/transcriptions", "/models/v2/openai/v1/audio/transcriptions"})
"""Paths whose handler takes a multipart file upload (proxy/surfaces/openai/media.py)."""


def check_headers(headers: Iterable[tuple[bytes, bytes]], config: Config) -> tuple[str, ...]:
    """Refuse a malformed or oversized header block; the secrets its credential headers hold."""
    limits = config.limits
    total = 0
    secrets: list[str] = []
    for name, value in headers:
        total += len(name) + len(value) + 4
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(value):
            raise GatewayError(Code.INVALID_REQUEST, "a header contains CR, LF or NUL")
        if len(value) > limits.max_header_value_bytes:
            header = name.decode("latin-1")[:64]
            raise GatewayError(
                Code.INVALID_REQUEST,
                f"header {header!r} is longer than {limits.max_header_value_bytes} bytes",
                status=431,
            )
        lowered = name.lower()
        vendor_key = lowered == b"provider-key" or lowered.startswith(b"provider-key-")
        if vendor_key or lowered in CREDENTIAL_HEADERS:
            if vendor_key and _NOT_PRINTABLE_ASCII.search(value):
                # No vendor's key holds such bytes, and no HTTP client could send them on.
                # (A unigate key that does is simply unknown: 401, proxy/front_door.py.)
                header = name.decode("latin-1")[:64]
                raise GatewayError(Code.INVALID_REQUEST, f"the {header} header must be printable ASCII")
            secret = _credential(value.decode("latin-1"))
            if len(secret) >= MIN_SECRET:
                secrets.append(secret)
    if total > limits.max_header_bytes:
        raise GatewayError(
            Code.INVALID_REQUEST, f"the headers are larger than {limits.max_header_bytes} bytes", status=431
        )
    return tuple(secrets)


def _credential(value: str) -> str:
    """`Bearer abc` → `abc`: the secret itself, which is what may be echoed elsewhere."""
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if rest and scheme.lower() in ("bearer", "key", "basic") else value.strip()


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, strings skipped; linear, no recursion."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise GatewayError(Code.INVALID_REQUEST, f"the JSON body has a duplicate key {name[:64]!r}")
        seen.add(name)
    return dict(pairs)


_DUPLICATE_CHECK = json.JSONDecoder(object_pairs_hook=_no_duplicates)
"""Built once: `json.loads` with a hook builds a decoder on every call."""


def check_json(raw: bytes, max_depth: int) -> None:
    """400 for a body that is not UTF-8, is nested too deeply, or repeats a key.

    Malformed JSON is left to the surface's own decoder, which says where it broke."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GatewayError(Code.INVALID_REQUEST, "the request body is not valid UTF-8") from None
    if json_depth(raw) > max_depth:
        raise GatewayError(Code.INVALID_REQUEST, f"the JSON body is nested deeper than {max_depth} levels")
    try:
        _DUPLICATE_CHECK.decode(text)
    except ValueError:
        return
    except RecursionError:  # unreachable past the depth check; kept so it can never be a 500
        raise GatewayError(Code.INVALID_REQUEST, "the JSON body is nested too deeply") from None


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise GatewayError(Code.INVALID_REQUEST, "Content-Length is not a number") from None
    return None


def _too_large(limit: int, what: str) -> GatewayError:
    return GatewayError(Code.PAYLOAD_TOO_LARGE, f"{what} is larger than {limit} bytes")


def is_upload(scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    if scope.get("path") not in UPLOAD_PATHS:
        return False
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    return content_type.lower().startswith(b"multipart/form-data")


async def read_body(
    receive: Receive, limit: int, declared: int | None, what: str = "the request body"
) -> bytes:
    """The whole body, or 413 the moment it is known to pass `limit` (nothing more is read)."""
    if declared is not None and declared > limit:
        raise _too_large(limit, what)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(Code.INVALID_REQUEST, "the client left before sending the body")
        chunk = message.get("body", b"")
        assert isinstance(chunk, bytes)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the handler the body already read, then the real channel."""
    first: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
    pending: Iterator[ReceiveMessage] = iter([first])

    async def replay() -> ReceiveMessage:
        for message in pending:
            return message
        return await receive()

    return replay
