"""What an adapter is: pure translation plus one thin I/O method per mode.

Dispatch (proxy/dispatch/dispatcher.py) owns retries, timeouts, fallback and cancellation; an adapter
reads no environment and no globals: everything arrives in `UpstreamCall` / `EmbeddingCall`.

Every protocol an adapter may implement is declared here, so the dispatcher and the surfaces
ask `isinstance(adapter, TaskAdapter)` of a declared contract, never `getattr` of a name:

- `Adapter`: chat, streamed or not (every adapter);
- `TaskAdapter`: non-chat tasks on a worker pool (`run`);
- `EmbeddingAdapter`: embeddings (`embed`, with `capabilities.embeddings`);
- `TokenCounter`: the vendor's own count of a request's input tokens (`count_tokens`);
- `ChunkDecoder`, `DataDecoder`, `NamedEventDecoder`: what turns a vendor's stream into
  `StreamEvent`s, read by the one loop in adapters/transport.py. A decoder reports what the
  vendor said of its stream (`Opening`: id, model) and never builds the `Start` itself.

The runtime-checkable ones are checked against instances whose modules are already imported,
so checking one never imports a vendor SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from adapters.media_output import DEFAULT_MAX_OUTPUT_BYTES
from schemas.chat import ChatRequest, ChatResponse
from schemas.embeddings import EmbeddingRequest, EmbeddingResponse
from schemas.errors import Code, GatewayError
from schemas.events import StreamEvent
from schemas.tasks import RunRequest, RunResponse


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    total: float = 600.0


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    request: ChatRequest | RunRequest
    """A chat turn, or a non-chat task (worker pools, the vendors' media endpoints): two
    unrelated Structs, narrowed once where an adapter branches (`chat_request`,
    `task_request`, or a worker's own `match`)."""
    model: str
    """The upstream model name, after routing."""
    api_key: str
    base_url: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers: a worker pool's W3C `traceparent` (proxy/observability/tracing.py).
    Worker adapters send them; vendor adapters do not."""
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    """`[media] max_output_bytes`: the most media a media call may bring back (decoded bytes)."""


def chat_request(call: UpstreamCall, provider: str) -> ChatRequest:
    """The call's chat turn, for `Adapter.complete` / `stream` of an adapter that answers chat
    only (every vendor's): a task sent there is refused with a typed error naming the
    adapter, so the narrowing happens once, at the entry point, and the translation below it
    is typed for a `ChatRequest` alone."""
    request = call.request
    if isinstance(request, RunRequest):
        raise GatewayError(
            Code.UNSUPPORTED, f"{provider} answers chat here, not the {request.task} task", provider=provider
        )
    return request


def task_request(call: UpstreamCall, provider: str) -> RunRequest:
    """The call's task, for `TaskAdapter.run`: a chat turn sent there is refused with a typed
    error naming the worker, not an assertion."""
    request = call.request
    if not isinstance(request, RunRequest):
        raise GatewayError(Code.UNSUPPORTED, f"{provider} runs tasks here, not chat", provider=provider)
    return request


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
        """Yield `Start` first (carrying the call's warnings), then deltas, `UsageEvent` and
        `Finish`; adapters/transport.py `decode_stream` guarantees that shape.

        Errors before the first event raise `UpstreamError` (dispatch may still retry);
        after it they raise too, and dispatch turns them into an `error` event.
        """
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TaskAdapter(Protocol):
    """A worker adapter that runs non-chat tasks; `call.request` is a `RunRequest`."""

    name: str

    async def run(self, call: UpstreamCall) -> RunResponse:
        """One task call; raises `UpstreamError` classified by this worker's rules."""
        ...


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    request: EmbeddingRequest
    model: str
    """The upstream model name, after routing."""
    api_key: str
    base_url: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers, as on `UpstreamCall`: a worker pool's W3C `traceparent`."""


@runtime_checkable
class EmbeddingAdapter(Protocol):
    """An adapter whose vendor embeds text; it declares `capabilities.embeddings` too."""

    name: str
    capabilities: Capabilities

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        """One embeddings call; raises `UpstreamError` classified by this vendor's rules."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """An adapter whose vendor counts a request's input tokens itself (Anthropic's
    `count_tokens`); the others are estimated by the surface."""

    async def count_tokens(self, call: UpstreamCall) -> int:
        """The input tokens of `call.request`; raises `UpstreamError` like any call."""
        ...


@dataclass(frozen=True, slots=True)
class Opening:
    """What a vendor said of its stream as it opened it: its id for the answer and the model
    that answers. The loop (adapters/transport.py `decode_stream`) puts it on the stream's
    one `Start`; a vendor that says neither gets a `Start` all the same."""

    id: str = ""
    model: str = ""


class ChunkDecoder(Protocol):
    """A vendor stream's raw body bytes, split anywhere → events (the one loop's input).
    Events may come lazily, so an error raises after the events that preceded it. A decoder
    yields no `Start`: the loop makes the one a stream opens with, from `opening`."""

    @property
    def done(self) -> bool:
        """The vendor said its last word: the loop stops reading."""
        ...

    @property
    def opening(self) -> Opening | None:
        """What the vendor said of its stream so far; None until it said anything (read when
        the first event goes out)."""
        ...

    def feed(self, chunk: bytes) -> Iterable[StreamEvent]: ...

    def close(self) -> Iterable[StreamEvent]:
        """The body ended: what is still pending (usage, finish)."""
        ...


class DataDecoder(Protocol):
    """A vendor stream decoder fed the `data:` field of each SSE event."""

    @property
    def done(self) -> bool: ...

    @property
    def opening(self) -> Opening | None: ...

    def feed(self, data: str) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


class NamedEventDecoder(Protocol):
    """A vendor stream decoder fed each SSE event's `event:` name and `data:` (Anthropic)."""

    @property
    def done(self) -> bool: ...

    @property
    def opening(self) -> Opening | None: ...

    def feed(self, name: str, data: str) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...
