"""EmbeddingRequest ↔ Gemini `:batchEmbedContents`. Pure.

One `requests[]` entry per text, each naming the model as the API requires. `extra`
(`taskType`, `title`) goes into every entry, since the batch body has no other place for it.
The reply carries no token counts unless a newer API adds `usageMetadata`, which is read then.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct

from adapters.gemini.model_names import gemini_model_path
from schemas.chat import Usage
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import Code, UpstreamError

PROVIDER = "gemini"


class WireValues(Struct):
    values: list[float]


class WireEmbeddingUsage(Struct):
    promptTokenCount: int = 0


class WireBatchEmbeddings(Struct):
    embeddings: list[WireValues]
    usageMetadata: WireEmbeddingUsage | None = None


_decode = msgspec.json.Decoder(WireBatchEmbeddings).decode


def to_gemini_embeddings_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    path = gemini_model_path(model)
    entries: list[dict[str, Any]] = []
    for text in request.texts:
        entry: dict[str, Any] = {**request.extra, "model": path, "content": {"parts": [{"text": text}]}}
        if request.dimensions is not UNSET:
            entry["outputDimensionality"] = request.dimensions
        entries.append(entry)
    return {"requests": entries}


def from_gemini_embeddings(raw: bytes, expected: int) -> EmbeddingResponse:
    try:
        reply = _decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamError(
            Code.SERVER_ERROR, f"{PROVIDER} sent an embeddings reply that cannot be read", provider=PROVIDER
        ) from None
    if len(reply.embeddings) != expected:
        raise UpstreamError(
            Code.SERVER_ERROR,
            f"{PROVIDER} sent {len(reply.embeddings)} embeddings for {expected} inputs",
            provider=PROVIDER,
        )
    tokens = reply.usageMetadata.promptTokenCount if reply.usageMetadata is not None else 0
    return EmbeddingResponse(
        vectors=[item.values for item in reply.embeddings],
        usage=Usage(input_tokens=tokens),
        raw=msgspec.Raw(raw),
    )
