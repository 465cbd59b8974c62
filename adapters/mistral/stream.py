"""Mistral stream chunks → StreamEvents: OpenAI's chunk decoder with Mistral's dialect (each
tool call arrives whole under an index that cannot be trusted; `thinking` chunks). Pure."""

from __future__ import annotations

from adapters.mistral.request import MISTRAL, PROVIDER
from adapters.openai.stream import OpenAIStreamDecoder


def mistral_stream_decoder() -> OpenAIStreamDecoder:
    return OpenAIStreamDecoder(PROVIDER, MISTRAL)
