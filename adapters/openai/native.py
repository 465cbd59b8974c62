"""Which of OpenAI's own endpoints answers a body written for it (`ChatRequest.openai_native`):
`/responses` (responses.py) or the legacy `/completions` (text_completions.py)."""

from __future__ import annotations

from adapters.base import DataDecoder
from adapters.openai import responses, text_completions
from schemas.chat import ChatResponse, OpenAINative

NATIVE_PATHS = frozenset({responses.PATH, text_completions.PATH})


def native_body(native: OpenAINative, model: str, stream: bool) -> bytes:
    if native.path == responses.PATH:
        return responses.to_responses_body(native.body, model, stream)
    return text_completions.to_completion_body(native.body, model, stream)


def native_answer(native: OpenAINative, content: bytes, provider: str) -> ChatResponse:
    if native.path == responses.PATH:
        return responses.from_responses_answer(content, provider)
    return text_completions.from_completion_answer(content, provider)


def native_decoder(native: OpenAINative, provider: str) -> DataDecoder:
    if native.path == responses.PATH:
        return responses.ResponsesStreamDecoder(provider)
    return text_completions.CompletionFrames(provider)
