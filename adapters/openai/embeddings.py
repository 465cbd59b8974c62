"""EmbeddingRequest ↔ OpenAI `/embeddings`. Pure; Mistral's reply has the same shape and reuses
`from_openai_embeddings`.

Floats are always asked for: the surface encodes base64 itself when its client wants it, so
one decoder serves every vendor.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct

from schemas.chat import Usage
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import Code, UpstreamError


class WireEmbedding(Struct):
    embedding: list[float]
    index: int = 0


class WireEmbeddingUsage(Struct):
    prompt_tokens: int = 0


class WireEmbeddings(Struct):
    data: list[WireEmbedding]
    usage: WireEmbeddingUsage | None = None


_decode = msgspec.json.Decoder(WireEmbeddings).decode


def to_openai_embeddings_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {**request.extra, "model": model, "input": request.input}
    body["encoding_format"] = "float"
    if request.dimensions is not UNSET:
        body["dimensions"] = request.dimensions
    return body


def from_openai_embeddings(raw: bytes, provider: str, expected: int) -> EmbeddingResponse:
    """`expected` is the number of input texts: a reply with another count is a broken reply."""
    try:
        reply = _decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamError(
            Code.SERVER_ERROR, f"{provider} sent an embeddings reply that cannot be read", provider=provider
        ) from None
    vectors = [item.embedding for item in sorted(reply.data, key=lambda item: item.index)]
    if len(vectors) != expected:
        raise UpstreamError(
            Code.SERVER_ERROR,
            f"{provider} sent {len(vectors)} embeddings for {expected} inputs",
            provider=provider,
        )
    tokens = reply.usage.prompt_tokens if reply.usage is not None else 0
    return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=tokens), raw=msgspec.Raw(raw))
