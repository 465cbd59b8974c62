"""OpenAI's own Responses stream, passed on: every event OpenAI sent, in its order and shape
(built-in tool calls, annotations, reasoning items included), renumbered with our
`sequence_number`s, with the response object under our id and model (passthrough.py).

The last event, `response.completed` or `.incomplete`, is held until dispatch has billed
the call, so it carries our `usage.cost`, and it is what the store keeps. A stream that
fails after it started (OpenAI's `response.failed` or `error`, a cut connection) ends with
`error` and `response.failed` built from what OpenAI had sent, never with `completed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from proxy.surfaces.responses.encode import client_view
from proxy.surfaces.responses.passthrough import as_ours
from schemas.events import ErrorEvent, VendorFrame

TERMINAL = frozenset({"response.completed", "response.incomplete"})
EventWriter = Callable[..., bytes]
"""The stream's `_event(kind, **fields)`: writes one SSE event with the next sequence number."""


class PassthroughStream:
    def __init__(
        self,
        response_id: str,
        model: str,
        fields: dict[str, Any],
        include: list[str] | None,
        event: EventWriter,
    ) -> None:
        self._id = response_id
        self._model = model
        self._fields = fields
        self._include = include
        self._event = event
        self._snapshot: dict[str, Any] = {}
        self._items: dict[int, dict[str, Any]] = {}
        self._held: tuple[str, dict[str, Any]] | None = None

    def _hidden(self, item: dict[str, Any]) -> dict[str, Any]:
        return client_view({"output": [item]}, self._include)["output"][0]  # type: ignore[no-any-return]

    def frame(self, event: VendorFrame) -> bytes:
        payload = msgspec.json.decode(event.data)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return b""
        kind: str = payload.pop("type")
        payload.pop("sequence_number", None)
        response = payload.get("response")
        if isinstance(response, dict):
            self._snapshot = as_ours(response, self._id, self._model, self._fields, None)
            if kind in TERMINAL:
                self._held = (kind, payload)
                return b""
            payload["response"] = client_view(response, self._include)
        item = payload.get("item")
        if isinstance(item, dict):
            if kind == "response.output_item.done":
                index = payload.get("output_index")
                self._items[index if isinstance(index, int) else len(self._items)] = item
            payload["item"] = self._hidden(item)
        return self._event(kind, **payload)

    def finish(self, failed: ErrorEvent | None, cost: float | None) -> tuple[bytes, dict[str, Any]]:
        """The closing frames and the finished response object (signatures kept, for the store)."""
        if failed is None and self._held is not None:
            kind, payload = self._held
            response: dict[str, Any] = payload["response"]
            usage = response.get("usage")
            if isinstance(usage, dict):
                usage["cost"] = cost
            shown = {**payload, "response": client_view(response, self._include)}
            return self._event(kind, **shown), response
        code = failed.code if failed is not None else "connection"
        message = failed.message if failed is not None else "openai ended the stream before it finished"
        response = {
            **self._snapshot,
            "status": "failed",
            "error": {"code": code, "message": message},
            "output": [self._items[index] for index in sorted(self._items)],
            "completed_at": None,
        }
        frames = self._event("error", code=code, message=message, param=None)
        frames += self._event("response.failed", response=client_view(response, self._include))
        return frames, response
