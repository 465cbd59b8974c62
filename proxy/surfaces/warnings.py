"""Warnings on the compatible surfaces: what the gateway could not send, told without
breaking the OpenAI or Anthropic SDKs.

The native envelope has a `warnings` key; the OpenAI and Anthropic wires have none, so
there they travel in a `Unigate-Warnings` response header (a JSON list of strings, ASCII
only) and, on a stream, also in its first frame as a `unigate_warnings` field, which both
SDKs keep as an extra attribute and otherwise ignore.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from schemas.events import Start, StreamEvent

HEADER = "Unigate-Warnings"
MAX_HEADER_BYTES = 4096
"""Past this the header lists what fits and says how many more there were: proxies and
clients refuse huge headers, and a warning can quote a client's parameter name."""


def warnings_header(warnings: list[str]) -> dict[str, str]:
    """`{"Unigate-Warnings": "[...]"}`, or nothing when there is nothing to say."""
    if not warnings:
        return {}
    # ensure_ascii: a header is latin-1 on the wire, and CR/LF must never reach it raw
    encoded = [json.dumps(warning, ensure_ascii=True) for warning in warnings]
    room = MAX_HEADER_BYTES - 2 - len('"999999 more warnings not shown",')
    shown: list[str] = []
    for item in encoded:
        room -= len(item) + 1
        if room < 0:
            break
        shown.append(item)
    if len(shown) < len(encoded):
        shown.append(json.dumps(f"{len(encoded) - len(shown)} more warnings not shown"))
    return {HEADER: "[" + ",".join(shown) + "]"}


async def started(events: AsyncIterator[StreamEvent]) -> tuple[Start | None, AsyncIterator[StreamEvent]]:
    """The `Start` of a stream dispatch has opened (who serves it, and its warnings), read
    before any frame so both can shape the response headers, and the same stream, whole."""
    first = await anext(events)

    async def whole() -> AsyncIterator[StreamEvent]:
        try:
            yield first
            async for event in events:
                yield event
        finally:
            # the relay settles the call's ledger row when it is closed
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    return (first if isinstance(first, Start) else None), whole()


async def opened(events: AsyncIterator[StreamEvent]) -> tuple[list[str], AsyncIterator[StreamEvent]]:
    """The warnings of a stream dispatch has opened, and the same stream, whole."""
    start, whole = await started(events)
    return (list(start.warnings or []) if start is not None else []), whole
