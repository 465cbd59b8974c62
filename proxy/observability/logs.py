"""Logs: one handler on the root logger, JSON lines or text, levels from `[logging]`.

Every logger goes through it: ours, uvicorn's (`unigate serve` gives uvicorn no logging
config of its own) and the SDKs'. The access line is a record on `unigate.access` whose
fields ride in `record.fields`; the JSON formatter puts them at the top level of the line.

Redaction: the record factory (proxy/server/redaction.py) already rewrote each message and
traceback; the formatters redact every string field as well, so a secret in a model id, a
path or any other field is removed the same way.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import msgspec

from proxy.server.redaction import install_redaction, redact, redact_fields
from schemas.config import LoggingConfig

ACCESS = logging.getLogger("unigate.access")
_encode = msgspec.json.Encoder().encode
_MARK = "_unigate_handler"


_SECOND: list[Any] = [-1, ""]
"""The last whole second a line was stamped with, and its text (lines come many a second)."""


def _timestamp(created: float) -> str:
    whole = int(created)
    if _SECOND[0] != whole:
        _SECOND[:] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_SECOND[1]}.{int((created - whole) * 1000):03d}Z"


def _json_fields(
    created: float, level: str, logger: str, message: str, fields: Mapping[str, object] | None
) -> dict[str, Any]:
    """A JSON line's head (time, level, logger, message) and its fields, every string redacted."""
    line: dict[str, Any] = {
        "time": _timestamp(created),
        "level": level,
        "logger": logger,
        "message": redact(message),
    }
    if fields:
        line.update(fields)
        texts = [name for name, value in fields.items() if isinstance(value, str)]
        if texts:
            line.update(zip(texts, redact_fields([line[name] for name in texts]), strict=True))
    return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, object] | None = getattr(record, "fields", None)
        line = _json_fields(record.created, record.levelname, record.name, record.getMessage(), fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(record.stack_info)
        return _encode(line).decode()


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields: Mapping[str, object] | None = getattr(record, "fields", None)
        if not fields:
            return redact(text)
        pairs = " ".join(f"{name}={_text(value)}" for name, value in fields.items() if value is not None)
        return redact(f"{text} {pairs}")


def _text(value: object) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f'"{text}"' if " " in text or not text else text


class LoopBatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that, on an event loop, writes the lines of one loop iteration at once.

    A write to standard error is a system call that releases the GIL: one per access line
    hands the GIL to the ledger's writer thread in the middle of every request (two more
    context switches), which cost more CPU than formatting the line. On the event loop a
    line is queued and the queue written, once, by a callback at the end of the iteration;
    off the loop (other threads, start-up, shutdown) lines are written at once, after any
    queued ones, so the order holds. A line waits at most for the rest of its iteration;
    `flush()` (called by `logging.shutdown` at exit) writes what is left."""

    _LIMIT = 256

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop whose callback will write the queue, while one is scheduled."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        self._queue(line)

    def _queue(self, line: str) -> None:
        loop = asyncio.events._get_running_loop()
        self._pending.append(line)
        if loop is None or self._loop not in (None, loop) or len(self._pending) >= self._LIMIT:
            self._write()
            return
        if self._loop is None:
            self._loop = loop
            loop.call_soon(self._drain)

    def _drain(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        self._loop = None
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # as StreamHandler: a broken sink never breaks the request
            self.handleError(logging.makeLogRecord({"msg": "log write failed"}))

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()
        super().flush()


def resolved_format(config: LoggingConfig, stream: IO[str] | None = None) -> str:
    """`auto` is JSON unless the stream (standard error) is a terminal."""
    if config.format != "auto":
        return config.format
    stream = stream or sys.stderr
    return "text" if stream.isatty() else "json"


def configure_logging(config: LoggingConfig, stream: IO[str] | None = None) -> None:
    """Install the one root handler (replacing ours from an earlier call) and the levels."""
    install_redaction()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            handler.flush()
            root.removeHandler(handler)
    handler = LoopBatchingHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if resolved_format(config, stream) == "json" else TextFormatter())
    root.addHandler(handler)
    # what no line of ours prints is not gathered for every record (the logging HOWTO's
    # "Optimization"): the caller's file and line (a walk up the stack), thread and process
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root.setLevel(config.level.upper())
    for name, level in config.levels.items():
        logging.getLogger(name).setLevel(level.upper())
    ACCESS.disabled = not config.access_log


def access(fields: dict[str, object]) -> None:
    """The request's access line (fields already chosen by the caller).

    When the line would go nowhere but to the one JSON handler `configure_logging` installed
    (no other handler or filter on its way, the usual production case), it is formatted and
    queued straight into that handler, the very line the record would have made: building a
    `LogRecord` and walking the logger tree cost about as much as the line itself."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    handler = _only_handler()
    if handler is not None:
        line = _json_fields(time.time(), "INFO", ACCESS.name, "request", fields)
        with handler.lock:  # type: ignore[union-attr]
            handler._queue(_encode(line).decode() + handler.terminator)
        return
    ACCESS.info("request", extra={"fields": fields})


def _only_handler() -> LoopBatchingHandler | None:
    """The JSON handler `configure_logging` installed, when an access record would reach it
    and nothing else: no filter on the access logger, no handler on the way to the root."""
    if ACCESS.filters:
        return None
    logger: logging.Logger | None = ACCESS
    while logger is not None and logger is not logging.root:
        if logger.handlers or not logger.propagate:
            return None
        logger = logger.parent
    handlers = logging.root.handlers
    handler = handlers[0] if len(handlers) == 1 else None
    if (
        isinstance(handler, LoopBatchingHandler)
        and isinstance(handler.formatter, JsonFormatter)
        and handler.level <= logging.INFO
        and not handler.filters
    ):
        return handler
    return None
