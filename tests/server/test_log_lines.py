"""The access line's two ways out (proxy/observability/logs.py `access`): straight into the
one JSON handler when nothing else would see the record, else as a `LogRecord`; both write
the same line, redacted the same way (proxy/server/redaction.py `redact_fields`)."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from proxy.observability import logs
from proxy.server.redaction import REQUEST_SECRETS, redact, redact_fields
from schemas.config import LoggingConfig

SECRET = "sk-proj-canary0123456789abcdef"
FIELDS: dict[str, object] = {
    "request_id": "r1",
    "path": f"/models/v2/x?key={SECRET}",
    "model": "openai/gpt-4o-mini",
    "status": 200,
    "cost": 1.5e-05,
    "code": None,
    "client": "127.0.0.1",
    "header": f"authorization: Bearer {SECRET}",
}


@contextmanager
def alone() -> Iterator[io.StringIO]:
    """Our JSON handler alone on the root logger (pytest's capture handlers, which it adds
    around each test's call, set aside)."""
    root = logging.getLogger()
    others, level = list(root.handlers), root.level
    for handler in others:
        root.removeHandler(handler)
    stream = io.StringIO()
    logs.configure_logging(LoggingConfig(format="json"), stream)
    try:
        yield stream
    finally:
        logs.configure_logging(LoggingConfig(format="text", level=logging.getLevelName(level)), sys.stderr)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in others:
            root.addHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    logging.getLogger().handlers[0].flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_direct_line_is_the_records_line() -> None:
    with alone() as sink:
        direct_then_recorded()
        found = lines(sink)
    direct, recorded = found
    assert direct.pop("time") and recorded.pop("time")
    assert direct == recorded
    assert direct["logger"] == "unigate.access" and direct["level"] == "INFO" and direct["status"] == 200
    assert SECRET not in sink.getvalue() and "[redacted]" in str(direct["path"])


def direct_then_recorded() -> None:
    assert logs._only_handler() is not None
    logs.access(dict(FIELDS))
    extra = logging.NullHandler()
    logs.ACCESS.addHandler(extra)  # another handler would see the record: the record path
    try:
        assert logs._only_handler() is None
        logs.access(dict(FIELDS))
    finally:
        logs.ACCESS.removeHandler(extra)


def test_a_filter_or_a_quiet_logger_keeps_the_record_path() -> None:
    with alone() as sink:
        filtered_then_quiet()
        assert lines(sink) == []


def filtered_then_quiet() -> None:
    logs.ACCESS.addFilter(lambda record: False)
    try:
        assert logs._only_handler() is None
        logs.access(dict(FIELDS))
    finally:
        logs.ACCESS.filters.clear()
    logs.ACCESS.setLevel(logging.WARNING)
    try:
        logs.access(dict(FIELDS))
    finally:
        logs.ACCESS.setLevel(logging.NOTSET)


def test_redact_fields_matches_redact_value_by_value() -> None:
    values = [str(value) for value in FIELDS.values()]
    assert redact_fields(values) == [redact(value) for value in values]
    token = REQUEST_SECRETS.set(("own-secret-value-42",))
    try:
        values = ["a own-secret-value-42 b", "own-secr", "tail own-secret-v", "plain"]
        assert redact_fields(values) == [redact(value) for value in values]
    finally:
        REQUEST_SECRETS.reset(token)


def test_redact_fields_with_the_separator_inside_a_value() -> None:
    values = ["one\x1ftwo", f"x {SECRET}"]
    assert redact_fields(values) == [redact(value) for value in values]
    token = REQUEST_SECRETS.set(("spans\x1facross",))
    try:
        values = ["spans", "across", "spans\x1facross"]
        assert redact_fields(values) == [redact(value) for value in values]
    finally:
        REQUEST_SECRETS.reset(token)
