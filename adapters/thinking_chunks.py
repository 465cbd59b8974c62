"""Mistral's `thinking` content chunks, in replies and stream deltas of its OpenAI-shaped wire.

Mistral's reasoning models (Magistral) send `content` as a list of chunks:
`{"type": "text", "text"}` and `{"type": "thinking", "thinking": [{"type": "text", "text"}],
"signature"?}`. La Plateforme sends them, and so does vLLM serving those models with
Mistral's tokenizer, so both the Mistral dialect and the worker dialect plug these hooks
into the OpenAI decoders (adapters/openai/request.py `Dialect`); OpenAI itself sends none.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from schemas.chat import ReasoningPart
from schemas.events import ReasoningDelta, StreamEvent, TextDelta


def thinking_part(chunk: dict[str, Any]) -> ReasoningPart:
    inner = chunk.get("thinking")
    pieces = inner if isinstance(inner, list) else []
    part = ReasoningPart(text="".join(piece.get("text", "") for piece in pieces if isinstance(piece, dict)))
    signature = chunk.get("signature")
    if isinstance(signature, str):
        part.signature = signature
    return part


def reply_reasoning(content: list[Any]) -> list[ReasoningPart]:
    """A non-streamed reply's `thinking` chunks, in order."""
    return [
        thinking_part(chunk)
        for chunk in content
        if isinstance(chunk, dict) and chunk.get("type") == "thinking"
    ]


def chunk_events(index: int, chunks: list[Any]) -> list[StreamEvent]:
    """Delta content as a chunk list: text and `thinking` chunks, in the order they came."""
    events: list[StreamEvent] = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("type") == "text" and chunk.get("text"):
            events.append(TextDelta(index=index, text=chunk["text"]))
        elif chunk.get("type") == "thinking":
            part = thinking_part(chunk)
            if part.text or part.signature is not UNSET:
                events.append(ReasoningDelta(index=index, text=part.text, signature=part.signature))
    return events
