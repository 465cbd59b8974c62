"""Tool-call ids for Gemini, which usually gives its function calls none.

A synthesized id is derived from the reply (its `responseId` and the call's position), so
the non-streamed and streamed decodings of one reply agree and a replay gives the same ids.
It carries a prefix of its own so that, sent back in history, it is recognised and not
passed to Gemini as if Gemini had issued it; an id Gemini did issue passes through unchanged.
"""

from __future__ import annotations

import hashlib

SYNTHETIC_PREFIX = "call_gemini_"


def synthesize_call_id(response_id: str, position: int, name: str) -> str:
    if response_id:
        return f"{SYNTHETIC_PREFIX}{response_id}_{position}"
    digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return f"{SYNTHETIC_PREFIX}{digest}_{position}"


def gemini_call_id(call_id: str) -> str | None:
    """The id to send back to Gemini: its own, or None for one we made up."""
    if not call_id or call_id.startswith(SYNTHETIC_PREFIX):
        return None
    return call_id
