"""Mistral chat replies → ChatResponse: OpenAI's decoder with Mistral's dialect, whose hooks
read its `thinking` chunks and classify errors inside a 200 by Mistral's rules. Pure."""

from __future__ import annotations

from adapters.mistral.request import MISTRAL, PROVIDER
from adapters.openai.response import from_openai_response
from schemas.chat import ChatResponse


def from_mistral_response(raw: bytes) -> ChatResponse:
    return from_openai_response(raw, PROVIDER, MISTRAL)
