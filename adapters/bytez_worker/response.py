"""Bytez model-container replies → ChatResponse and task outputs. Pure.

A container that cannot stream a chat sends one JSON answer (stream.py tells it apart by its
content type). Its OpenAI mode puts a non-streamed answer's `finish_reason` at the top level,
not in the choice.
"""

from __future__ import annotations

import msgspec

from adapters.bytez_worker.errors import broken_reply
from adapters.bytez_worker.wire import decode_default_reply, decode_run_reply
from adapters.errors import scrub
from adapters.openai.response import from_openai_response
from adapters.openai_compat import worker_dialect
from adapters.replies import chat_response
from schemas.chat import ChatResponse, Usage
from schemas.errors import Code, UpstreamError


def from_bytez_chat(raw: bytes, provider: str) -> ChatResponse:
    """One JSON chat answer: the OpenAI mode's `chat.completion`, or the default mode's
    `{"output": [{"generated_text": [...messages, {"role": "assistant", ...}]}]}`."""
    if b'"choices"' in raw:
        return from_openai_response(raw, provider, worker_dialect(provider))
    try:
        reply = decode_default_reply(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise broken_reply(provider, "a reply that cannot be read") from None
    if reply.error or not reply.output:
        raise broken_reply(provider, "a reply with no output")
    generated = reply.output[0].generated_text
    if isinstance(generated, list):
        last = generated[-1] if generated else {}
        content = last.get("content") if isinstance(last, dict) else None
        text = content if isinstance(content, str) else ""
    else:
        text = generated
    return chat_response(
        id="", model="", content=text, finish_reason="stop", raw_finish_reason=None, usage=Usage(), raw=raw
    )


def from_bytez_run(raw: bytes, provider: str) -> msgspec.Raw:
    """A task's `{"output": ...}`: the output exactly as the container gave it."""
    try:
        reply = decode_run_reply(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise broken_reply(provider, "a reply that cannot be read") from None
    if reply.error:
        message = scrub(reply.error)[:300]
        raise UpstreamError(Code.INVALID_REQUEST, f"{provider}: {message}", provider=provider)
    return reply.output
