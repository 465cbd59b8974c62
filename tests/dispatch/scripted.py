"""A vendor adapter whose answers are scripted: the collaborator dispatch's unit tests call.

It stands for the adapter, never for dispatch: every call it gets is recorded (the key, the
upstream model, the base URL), so a test reads which target an attempt went to with which
key. `complete`, `stream` and `embed` take the next scripted outcome: an `UpstreamError` is
raised, anything else answered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

import msgspec

from adapters.base import Capabilities, EmbeddingCall, UpstreamCall
from schemas.chat import ChatRequest, ChatResponse, Usage, UserMessage
from schemas.config import Config
from schemas.embeddings import EmbeddingResponse
from schemas.errors import Code, UpstreamError
from schemas.events import Finish, Start, StreamEvent, TextDelta, UsageEvent

Outcome = UpstreamError | ChatResponse | EmbeddingResponse | list[StreamEvent | UpstreamError]
"""An error, an answer, or a stream's events (an error among them: the stream is cut there)."""


def config(toml: str = "", retry: str = "") -> Config:
    """A Config as config.toml would give it; `retry` adds lines to `[dispatch.retry]`,
    which waits nothing between retries unless told to."""
    base = f"[dispatch.retry]\nbase_delay = 0.0\nmax_delay = 0.0\n{retry}\n"
    return msgspec.toml.decode((base + toml).encode(), type=Config)


def chat(text: str = "hello") -> ChatRequest:
    return ChatRequest(model="any", messages=[UserMessage(content=text)])


def answer(text: str = "hi", input_tokens: int = 3, output_tokens: int = 2) -> ChatResponse:
    return ChatResponse(
        id="vendor-id",
        model="vendor-model",
        content=text,
        finish_reason="stop",
        raw_finish_reason="stop",
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
    )


def failure(provider: str, code: Code = Code.SERVER_ERROR, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(code, f"{provider} said {code}", provider=provider, retry_after=retry_after)


def streamed(text: str = "hi") -> list[StreamEvent | UpstreamError]:
    return [
        Start(id="vendor-id", model="vendor-model", provider="scripted"),
        TextDelta(index=0, text=text),
        UsageEvent(input_tokens=3, output_tokens=2),
        Finish(reason="stop", raw_reason="stop"),
    ]


class ScriptedAdapter:
    def __init__(self, name: str, *outcomes: Outcome, capabilities: Capabilities | None = None) -> None:
        self.name = name
        self.capabilities = capabilities or Capabilities(embeddings=True)
        self.outcomes: deque[Outcome] = deque(outcomes)
        self.calls: list[UpstreamCall | EmbeddingCall] = []

    def _next(self, call: UpstreamCall | EmbeddingCall) -> Outcome:
        self.calls.append(call)
        outcome = self.outcomes.popleft() if self.outcomes else answer()
        if isinstance(outcome, UpstreamError):
            raise outcome
        return outcome

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        outcome = self._next(call)
        assert isinstance(outcome, ChatResponse)
        return outcome

    async def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        outcome = self._next(call)
        if isinstance(outcome, ChatResponse):
            outcome = streamed(outcome.content or "")
        assert isinstance(outcome, list)
        for event in outcome:
            if isinstance(event, UpstreamError):
                raise event
            yield event

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        outcome = self._next(call)
        if isinstance(outcome, ChatResponse):
            outcome = EmbeddingResponse(
                vectors=[[1.0] for _ in call.request.texts], usage=Usage(input_tokens=1)
            )
        assert isinstance(outcome, EmbeddingResponse)
        return outcome

    async def aclose(self) -> None:
        return None
