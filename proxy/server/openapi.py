"""OpenAPI descriptions for handlers that decode their own bodies with msgspec.

The native surface reads the raw body (one msgspec decode, our own error messages), so
Litestar sees no request body to describe. `described()` builds an `Operation` class
that adds one, and the envelope (schemas/native.py `Envelope`, the one type of every
non-streamed native answer, errors included) for the error statuses, from msgspec's own
JSON Schema — the schema of exactly what the decoder accepts — so API clients and the
schemathesis fuzz run (tests/security/test_openapi_fuzz.py) see the real contract.

Every `$ref` is inlined: Litestar rebuilds `components.schemas` from the types it knows
and would drop any we added there. The schemas here are not recursive, so inlining ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody, Schema

from schemas.native import CatalogueEntry, Envelope


class CatalogueList(msgspec.Struct):
    """`GET /models/v2/list/models` (CatalogueAnswer's union is not one msgspec can describe)."""

    output: list[CatalogueEntry]
    error: None = None


class TaskList(msgspec.Struct):
    output: list[str]
    error: None = None


ERROR_STATUSES = (400, 401, 402, 403, 404, 405, 409, 413, 415, 429, 431, 500, 501, 502, 503, 504)


def _inline(node: Any, components: dict[str, Any], trail: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, components, trail) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str):
        if reference in trail:
            raise ValueError(f"cannot inline the recursive schema {reference}")
        return _inline(components[reference], components, (*trail, reference))
    return {name: _inline(value, components, trail) for name, value in node.items()}


@cache
def json_schema(kind: Any) -> dict[str, Any]:
    """msgspec's JSON Schema for `kind`, self-contained."""
    (schema,), components = msgspec.json.schema_components([kind], ref_template="{name}")
    inlined: dict[str, Any] = _inline(schema, components, ())
    return inlined


def _json(kind: Any) -> dict[str, OpenAPIMediaType]:
    return {"application/json": OpenAPIMediaType(schema=cast(Schema, json_schema(kind)))}


def described(
    body: Any = None, answer: Any = None, *, streams: bool = False, body_required: bool = True
) -> type[Operation]:
    """An Operation class describing `body` (request), `answer` (200) and the error envelope."""

    @dataclass
    class DescribedOperation(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = RequestBody(content=_json(body), required=body_required)
            responses = dict(self.responses or {})
            if answer is not None:
                content = _json(answer)
                if streams:
                    content["text/event-stream"] = OpenAPIMediaType(schema=Schema(type=None))
                    content["text/plain"] = OpenAPIMediaType(schema=Schema(type=None))
                responses["200"] = OpenAPIResponse(description="The answer", content=content)
            envelope = OpenAPIResponse(
                description="An error: the same envelope as every answer, `error` and `code` set",
                content=_json(Envelope),
            )
            for status in ERROR_STATUSES:
                responses[str(status)] = envelope
            self.responses = responses

    return DescribedOperation
