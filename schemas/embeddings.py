"""The unified embeddings call: what the OpenAI surface decodes into and every adapter embeds from.

Vectors always come back as floats; the surface encodes them as base64 when the client asks
(the openai SDK asks by default), so adapters never see `encoding_format`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

from schemas.chat import Usage


class EmbeddingRequest(Struct, omit_defaults=True):
    model: str
    input: str | list[str]
    dimensions: int | UnsetType = UNSET
    encoding_format: Literal["float", "base64"] | UnsetType = UNSET
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Vendor-specific parameters (Cohere's `input_type`, Gemini's `taskType`); sent verbatim."""

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


class EmbeddingResponse(Struct, omit_defaults=True):
    vectors: list[list[float]]
    """One vector per input text, in input order."""
    usage: Usage
    raw: msgspec.Raw = msgspec.Raw(b"null")
    """The vendor's own reply, byte for byte."""
