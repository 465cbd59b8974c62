"""What an adapter is: pure translation plus one thin I/O method per mode.

Dispatch (proxy/dispatch/dispatcher.py) owns retries, timeouts, fallback and cancellation; an adapter
reads no environment and no globals: everything arrives in `UpstreamCall`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from schemas.chat import ChatRequest, ChatResponse
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.events import StreamEvent


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    total: float = 600.0


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    request: ChatRequest
    model: str
    """The upstream model name, after routing."""
    api_key: str
    base_url: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers: a worker pool's W3C `traceparent` (proxy/observability/tracing.py).
    Worker adapters send them; vendor adapters do not."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a vendor can take; the conformance suite skips only what is declared absent here."""

    tools: bool = True
    streamed_tool_arguments: bool = True
    images_by_url: bool = True
    images_base64: bool = True
    audio_by_url: bool = False
    """False: the gateway fetches an audio URL (SSRF-safe, proxy/dispatch/media_inlining.py)
    and sends it inline."""
    video_by_url: bool = False
    json_object: bool = True
    json_schema: bool = True
    audio: bool = False
    video: bool = False
    reasoning: bool = False
    embeddings: bool = False


class Adapter(Protocol):
    name: str
    capabilities: Capabilities

    async def complete(self, call: UpstreamCall) -> ChatResponse:
        """One non-streamed call; raises `UpstreamError` classified by this vendor's rules."""
        ...

    def stream(self, call: UpstreamCall) -> AsyncIterator[StreamEvent]:
        """Yield `Start` first, then deltas, `UsageEvent` and `Finish`.

        Errors before the first event raise `UpstreamError` (dispatch may still retry);
        after it they raise too, and dispatch turns them into an `error` event.
        """
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    request: EmbeddingRequest
    model: str
    """The upstream model name, after routing."""
    api_key: str
    base_url: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)


@runtime_checkable
class EmbeddingAdapter(Protocol):
    """An adapter whose vendor embeds text; it declares `capabilities.embeddings` too."""

    name: str
    capabilities: Capabilities

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        """One embeddings call; raises `UpstreamError` classified by this vendor's rules."""
        ...
