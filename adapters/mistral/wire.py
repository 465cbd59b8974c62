"""Mistral error bodies: minimal and tolerant, because the service answers in several shapes.

    {"object": "error", "message": "…", "type": "rate_limited", "param": null, "code": "1300"}
    {"object": "error", "message": {"detail": [{loc, msg, type}]}, "type": "invalid_request_error", …}
    {"detail": [{loc, msg, type}]}            request validation (422)
    {"detail": "Unauthorized"}                {"message": "Unauthorized", "request_id": "…"}

Successful replies and stream chunks are OpenAI-shaped and use adapters/openai/wire.py.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct


class WireMistralError(Struct):
    object: str | None = None
    message: str | list[Any] | dict[str, Any] | None = None
    detail: str | list[Any] | None = None
    type: str | None = None
    code: str | int | None = None
    raw_status_code: int | None = None
    """Set by the gateway in front of the models when it relays an upstream failure."""


decode_mistral_error = msgspec.json.Decoder(WireMistralError).decode
