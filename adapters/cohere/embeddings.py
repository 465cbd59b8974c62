"""EmbeddingRequest ↔ Cohere `v2/embed` (float vectors). Pure.

Cohere's v3+ models require `input_type`; without one in `extra` the texts are embedded as
`search_document`, the kind a corpus is indexed with (send `input_type: search_query` for
queries). Tokens come from `meta.billed_units.input_tokens`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct

from adapters.cohere.errors import PROVIDER
from schemas.chat import Usage
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import Code, UpstreamError

DEFAULT_INPUT_TYPE = "search_document"


class WireEmbeddingsByType(Struct):
    floats: list[list[float]] | None = msgspec.field(default=None, name="float")


class WireBilledUnits(Struct):
    input_tokens: int | None = None


class WireMeta(Struct):
    billed_units: WireBilledUnits | None = None


class WireEmbedReply(Struct):
    embeddings: WireEmbeddingsByType
    meta: WireMeta | None = None


_decode = msgspec.json.Decoder(WireEmbedReply).decode


def to_cohere_embeddings_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"input_type": DEFAULT_INPUT_TYPE, **request.extra}
    body.update(model=model, texts=request.texts, embedding_types=["float"])
    if request.dimensions is not UNSET:
        body["output_dimension"] = request.dimensions
    return body


def from_cohere_embeddings(raw: bytes, expected: int) -> EmbeddingResponse:
    try:
        reply = _decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        reply = None
    vectors = reply.embeddings.floats if reply is not None else None
    if reply is None or vectors is None:
        raise UpstreamError(
            Code.SERVER_ERROR, f"{PROVIDER} sent an embeddings reply that cannot be read", provider=PROVIDER
        )
    if len(vectors) != expected:
        raise UpstreamError(
            Code.SERVER_ERROR,
            f"{PROVIDER} sent {len(vectors)} embeddings for {expected} inputs",
            provider=PROVIDER,
        )
    billed = reply.meta.billed_units if reply.meta is not None else None
    tokens = billed.input_tokens if billed is not None and billed.input_tokens is not None else 0
    return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=tokens), raw=msgspec.Raw(raw))
