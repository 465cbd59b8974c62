"""EmbeddingRequest → Mistral `/v1/embeddings`. Pure. The reply is OpenAI's shape, read by
`adapters.openai.embeddings.from_openai_embeddings`; only the request names differ."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from schemas.embeddings import EmbeddingRequest


def to_mistral_embeddings_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {**request.extra, "model": model, "input": request.input}
    body["encoding_format"] = "float"
    if request.dimensions is not UNSET:
        body["output_dimension"] = request.dimensions
    return body
