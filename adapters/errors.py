"""Helpers every adapter's error classifier shares: scrubbing secrets, reading Retry-After."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from schemas.errors import Code, UpstreamError
from schemas.secrets import REDACTED, without_secret

_KEYLIKE = re.compile(r"\b(?:sk-|sk_|rk-|ug-|AIza)[-_A-Za-z0-9*.]{8,}")
_MAX_MESSAGE = 500
_SNIPPET = 300


def scrub(text: str, *secrets: str) -> str:
    """Remove every secret we know of (whole or cut, see schemas/secrets.py), and anything
    shaped like an API key, from a message; then cut it to its length cap."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = without_secret(text, secret)
    text = _KEYLIKE.sub(REDACTED, text)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "…"
    return text


def error_snippet(body: bytes, *secrets: str) -> str:
    """The start of a vendor's error body that is not its JSON (a proxy's HTML page, say),
    to quote to the client: secrets removed before it is cut, so the cut cannot leave the
    start of a key behind."""
    text = scrub(body.decode("utf-8", errors="replace"), *secrets)
    return text[:_SNIPPET].strip()


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def stream_cut(provider: str) -> UpstreamError:
    """A vendor stream that ended without its finish: it was cut, never a clean end."""
    return UpstreamError(
        Code.CONNECTION, f"{provider} ended the stream before it finished", provider=provider
    )
