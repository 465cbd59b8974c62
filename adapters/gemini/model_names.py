"""A Gemini model name, kept to one resource path segment.

The Gemini API puts the model in the URL (`/v1beta/models/<name>:generateContent`), so a
model id is a path, not a string in a body: `gemini-x/../../cachedContents?a=` would call
another resource with the operator's key, `gemini-x?key=injected&` would add a query
parameter. Percent-encoding is not enough, since a front end may decode `%2F` before it
routes; so the name must have Gemini's own syntax (letters, digits, `-`, `.`, `_`, starting
with a letter or digit, as `gemini-2.5-flash` or `tunedModels/my-model-1`), else the call
is the client's mistake, refused before anything is sent.
"""

from __future__ import annotations

import re

from schemas.errors import Code, GatewayError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_COLLECTIONS = ("models/", "tunedModels/")


def gemini_model_path(model: str) -> str:
    """`models/<name>` or `tunedModels/<name>`, with `<name>` one path segment."""
    collection = next((prefix for prefix in _COLLECTIONS if model.startswith(prefix)), "models/")
    name = model.removeprefix(collection)
    if not _NAME.fullmatch(name):
        raise GatewayError(
            Code.INVALID_REQUEST,
            f"{model[:200]!r} is not a Gemini model name (letters, digits, '-', '.', '_')",
            provider="gemini",
        )
    return collection + name
