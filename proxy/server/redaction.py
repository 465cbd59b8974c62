"""Secrets never reach a log sink, whoever logs them: ours, uvicorn's, an SDK's or aiohttp's.

A log record factory (installed once per process by `install_redaction`) formats each
record as it is created and rewrites its message, traceback and stack text through
`redact`. Formatting eagerly is what makes this hold for every handler, level and
formatter, including handlers that read `record.args` or format `exc_info` themselves.

`redact` removes two kinds of secret:
- the exact values the current request carried (its proxy key and Provider-Keys),
  remembered per request in a context variable by the front door, whole or cut (any
  run of 8 or more characters a secret starts with: a sink or a vendor may cut a line
  inside the key); and
- anything shaped like a credential: vendor and proxy key prefixes, `key=`/`token=` query
  parameters (Gemini's `?key=` inside an HTTP library's error), and the values of
  credential headers quoted in text.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from schemas.secrets import REDACTED, without_secret

MIN_SECRET = 6
"""Shorter values are not redacted as the request's own secrets (they would eat words)."""

_KEYLIKE = re.compile(r"\b(?:sk-|sk_|rk-|ug-|AIza|xai-|gsk_)[-_A-Za-z0-9*.~+/=]{8,}")
_QUERY = re.compile(r"(?i)([?&;](?:key|api_key|apikey|api-key|access_token|token|secret)=)[^&#\s'\"<>]+")
_HEADER = re.compile(
    r"(?i)((?:authorization|provider-key(?:-[a-z]+)?|x-api-key|x-goog-api-key|api-key)['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|key|basic)\s+)?[^\s'\",;}\]]+"
)

REQUEST_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("unigateREQUEST_SECRETS", default=())
"""The current request's own credential values (set by the front door, proxy/front_door.py)."""


def remember_secrets(values: Iterable[str]) -> None:
    """Mark values (the request's own keys) for redaction for the rest of this request."""
    found = tuple(value.strip() for value in values if len(value.strip()) >= MIN_SECRET)
    if found:
        REQUEST_SECRETS.set(REQUEST_SECRETS.get() + found)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text without the request's secrets, the given ones, and anything key-shaped."""
    for secret in (*REQUEST_SECRETS.get(), *secrets):
        if len(secret) >= MIN_SECRET:
            text = without_secret(text, secret)
    text = _KEYLIKE.sub(REDACTED, text)
    # both patterns need a `=` (a query parameter) or a `:` (a quoted header): text with
    # neither, most fields of an access line, skips the two slowest scans
    if "=" in text:
        text = _QUERY.sub(rf"\1{REDACTED}", text)
    elif ":" not in text:
        return text
    return _HEADER.sub(rf"\1{REDACTED}", text)


_SEPARATOR = "\x1f"
"""Joins the fields `redact_fields` redacts in one pass: whitespace to every pattern (no
match runs across it) and not a character a secret shape is made of."""


def redact_fields(values: list[str]) -> list[str]:
    """`redact` of each value, in one pass over them all (an access line has ten string
    fields): each is redacted alone when joining them could blur where one ends (a value
    holding the separator, or a redaction that took one)."""
    joined = _SEPARATOR.join(values)
    if values and joined.count(_SEPARATOR) == len(values) - 1:
        redacted = redact(joined).split(_SEPARATOR)
        if len(redacted) == len(values):
            return redacted
    return [redact(value) for value in values]


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not hide the record, nor leak its args
        message = f"{record.msg!s} (unformattable arguments)"
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redact(text.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _RedactingFactory:
    """Wraps the previous record factory; marked so installing twice is a no-op."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        _redact_record(record)
        return record


def install_redaction() -> None:
    """Redact every log record this process creates from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


def masked_url(url: str) -> str:
    """A database or Redis URL with its password masked, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
