"""What the worker adapters (openai_compat, bytez_worker) share.

Workers are always called in streaming mode for generation, even when the client asked for
one JSON answer: closing the stream is how a client that leaves stops the generation on the
GPU. These collectors turn such a stream back into the one answer. They read an adapter's
stream, which adapters/transport.py `decode_stream` ends with its `Finish` or with the error
that it was cut (the one place that decides it), so a collector never checks that itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.replies import chat_response
from schemas.chat import ChatResponse, FunctionCall, ReasoningPart, ToolCall, Usage
from schemas.events import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageEvent,
)


@asynccontextmanager
async def closing(events: AsyncIterator[StreamEvent]) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    """Close a stream however its reader leaves (a cancelled reader included), which closes
    the worker connection under it."""
    try:
        yield events
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def collect_chat(events: AsyncIterator[StreamEvent]) -> ChatResponse:
    """Assemble the events of one streamed chat turn (an adapter's stream: a cut one raised
    in `decode_stream`) into the answer a non-streamed call gives."""
    identity: Start | None = None
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, tuple[str, str, list[str]]] = {}
    usage = Usage()
    finish = Finish(reason="other", raw_reason=None)  # the stream's own replaces it: see above
    async for event in events:
        if isinstance(event, Start):
            identity = event
        elif isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ToolCallStart):
            calls[event.index] = (event.id, event.name, [])
        elif isinstance(event, ToolCallDelta) and event.index in calls:
            calls[event.index][2].append(event.arguments)
        elif isinstance(event, UsageEvent):
            usage = Usage(
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cached_input_tokens=event.cached_input_tokens,
                reasoning_tokens=event.reasoning_tokens,
            )
        elif isinstance(event, Finish):
            finish = event
    response = chat_response(
        id=identity.id if identity is not None else "",
        model=identity.model if identity is not None else "",
        content="".join(text) if text or not calls else None,
        finish_reason=finish.reason,
        raw_finish_reason=finish.raw_reason,
        usage=usage,
        tool_calls=[
            ToolCall(id=call_id, function=FunctionCall(name=name, arguments="".join(pieces)))
            for _, (call_id, name, pieces) in sorted(calls.items())
        ],
        reasoning=[ReasoningPart(text="".join(reasoning))] if reasoning else None,
    )
    if identity is not None and identity.warnings:
        response.warnings = list(identity.warnings)
    return response


async def collect_text(events: AsyncIterator[StreamEvent]) -> tuple[str, Usage]:
    """The generated text of a streamed text-generation call, and its usage where reported."""
    response = await collect_chat(events)
    return response.content or "", response.usage


def response_events(response: ChatResponse) -> list[StreamEvent]:
    """One whole answer as the events a stream of it would have carried (a worker that sent
    JSON to a streamed request), but the `Start`, which the stream loop makes."""
    events: list[StreamEvent] = []
    if response.content:
        events.append(TextDelta(index=0, text=response.content))
    for index, call in enumerate(response.tool_calls or ()):
        events.append(ToolCallStart(index=index, id=call.id, name=call.function.name))
        if call.function.arguments:
            events.append(ToolCallDelta(index=index, arguments=call.function.arguments))
    usage = response.usage
    events.append(UsageEvent(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens))
    events.append(Finish(reason=response.finish_reason, raw_reason=response.raw_finish_reason))
    return events
