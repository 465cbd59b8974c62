"""`/audio/speech` with `stream_format: "sse"`: how a token-billed speech model (gpt-4o-mini-tts)
tells what it used. Its plain audio answer carries no usage; the event stream carries the
audio as base64 `speech.audio.delta` events and the tokens on the closing `speech.audio.done`
(`{"usage": {"input_tokens", "output_tokens", "total_tokens"}}`), so unigate asks OpenAI for
the events and gives the client the audio, whichever form the client asked for. tts-1 and
tts-1-hd take no `stream_format: sse` (OpenAI's API reference) and are billed per character."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from adapters.media_output import too_large
from schemas.chat import Usage
from schemas.errors import Code, UpstreamError

_decode = msgspec.json.decode


def reports_speech_usage(provider: str, model: str) -> bool:
    """Whether the speech call should ask for the event stream: OpenAI's own GPT speech models."""
    return provider == "openai" and model.startswith("gpt-")


def _broken(provider: str, what: str) -> UpstreamError:
    return UpstreamError(Code.SERVER_ERROR, f"{provider} sent {what}", provider=provider)


def _events(raw: bytes, provider: str) -> list[dict[str, Any]]:
    events = []
    for frame in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = b"\n".join(line[5:].lstrip() for line in frame.split(b"\n") if line.startswith(b"data:"))
        if not data or data == b"[DONE]":
            continue
        try:
            event = _decode(data)
        except msgspec.DecodeError:
            raise _broken(provider, "a speech event that is not valid JSON") from None
        if isinstance(event, dict):
            events.append(event)
    return events


def from_speech_events(raw: bytes, provider: str, max_output_bytes: int) -> tuple[bytes, Usage]:
    """The audio of the `speech.audio.delta` events, in order, and the done event's tokens."""
    chunks: list[bytes] = []
    size = 0
    usage: Usage | None = None
    for event in _events(raw, provider):
        kind = event.get("type")
        if kind == "speech.audio.delta":
            try:
                chunk = base64.b64decode(str(event.get("audio") or ""), validate=True)
            except (binascii.Error, ValueError):
                raise _broken(provider, "speech audio that is not valid base64") from None
            size += len(chunk)
            if size > max_output_bytes:
                raise too_large(provider, max_output_bytes)
            chunks.append(chunk)
        elif kind == "speech.audio.done":
            reported = event.get("usage")
            reported = reported if isinstance(reported, dict) else {}
            usage = Usage(
                input_tokens=int(reported.get("input_tokens") or 0),
                output_tokens=int(reported.get("output_tokens") or 0),
            )
        elif kind == "error" or "error" in event:
            raise _broken(provider, "an error in the middle of the speech")
    if usage is None:
        raise UpstreamError(
            Code.CONNECTION, f"{provider} ended the speech before it was done", provider=provider
        )
    return b"".join(chunks), usage
