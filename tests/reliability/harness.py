"""What every reliability test needs: a config with small knobs, scripted vendor streams,
a client that reads the unified SSE as it arrives, and a reader for the ledger table.

Everything runs on real sockets: the gateway under uvicorn (tests/conftest.py), fake vendors
under uvicorn (tests/fakes/server.py), optionally a fault proxy in between.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from proxy.accounting.ledger import UsageRow
from proxy.storage import sqlite_path
from tests.conftest import NODELAY, RunningGateway
from tests.fakes.server import Reply
from tests.postgres import rows as database_rows

OPENAI_KEY = "sk-test-reliability-openai-0001"
ANTHROPIC_KEY = "sk-ant-test-reliability-0001"
KEYS = {"Provider-Key": OPENAI_KEY, "Provider-Key-Anthropic": ANTHROPIC_KEY}
CHAT = "/models/v2/team/chat"
"""Routed to openai gpt-4o-mini, falling back to anthropic (see `config`)."""
OPENAI_ONLY = "/models/v2/solo/openai"
ANTHROPIC_ONLY = "/models/v2/solo/anthropic"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Hello"}], "params": {"max_tokens": 50}}
SSE = {"Content-Type": "text/event-stream; charset=utf-8"}
CHAT_ROUTE = f"""
[[routes]]
match = "team/chat"
provider = "openai"
model = "gpt-4o-mini"
fallbacks = [{{ provider = "anthropic", model = "{ANTHROPIC_MODEL}" }}]

[[routes]]
match = "solo/openai"
provider = "openai"
model = "gpt-4o-mini"

[[routes]]
match = "solo/anthropic"
provider = "anthropic"
model = "{ANTHROPIC_MODEL}"
"""


def config(
    *,
    first_byte: float = 1.0,
    idle: float = 1.0,
    total: float = 10.0,
    attempts: int = 3,
    base_delay: float = 0.01,
    max_delay: float = 0.05,
    max_retry_after: float = 20.0,
    consecutive_failures: int = 5,
    open_seconds: float = 0.3,
    ping_interval: float = 15.0,
    shutdown_grace: float = 1.0,
    receipt_timeout: float = 15.0,
    max_connections: int | None = None,
    extra: str = CHAT_ROUTE,
) -> str:
    """A config.toml with knobs small enough for a fast suite."""
    return f"""
[server]
ping_interval = {ping_interval}
receipt_timeout = {receipt_timeout}
{f"max_connections = {max_connections}" if max_connections else ""}

[dispatch]
shutdown_grace = {shutdown_grace}

[dispatch.timeouts]
connect = 1.0
first_byte = {first_byte}
idle = {idle}
total = {total}

[dispatch.retry]
attempts = {attempts}
base_delay = {base_delay}
max_delay = {max_delay}
max_retry_after = {max_retry_after}

[dispatch.breaker]
consecutive_failures = {consecutive_failures}
open_seconds = {open_seconds}
max_open_seconds = {open_seconds * 4}

[prices."solo/openai"]
input = 0.15
output = 0.60

[prices."team/chat"]
input = 0.15
output = 0.60
{extra}
"""


def openai_frames(words: int = 20, usage: tuple[int, int] | None = (7, 20)) -> list[bytes]:
    """A Chat Completions stream: `words` text chunks `w00 `, `w01 `, ..., finish, usage, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
        payload = {
            "id": "chatcmpl-r",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
        }
        return b"data: " + msgspec.json.encode({**payload, "choices": choices, **extra}) + b"\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": f"w{n:02d} "}) for n in range(words)]
    frames.append(chunk({}, "stop"))
    if usage is not None:
        prompt, completion = usage
        frames.append(chunk({}, usage={"prompt_tokens": prompt, "completion_tokens": completion}))
    frames.append(b"data: [DONE]\n\n")
    return frames


def openai_stream(words: int = 20, **overrides: Any) -> Reply:
    reply = Reply(headers=dict(SSE), events=openai_frames(words))
    for key, value in overrides.items():
        setattr(reply, key, value)
    return reply


def anthropic_frame(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: ".encode() + msgspec.json.encode({"type": kind, **payload}) + b"\n\n"


def words_text(words: int) -> str:
    return "".join(f"w{n:02d} " for n in range(words))


@dataclass
class SSEResult:
    status: int
    headers: dict[str, str]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pings: int = 0
    body: bytes = b""

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(data["text"] for kind, data in self.events if kind == "text_delta")

    def first(self, kind: str) -> dict[str, Any]:
        return next(data for name, data in self.events if name == kind)


def client(gateway: RunningGateway, **options: Any) -> httpx.Client:
    transport = options.pop("transport", None) or httpx.HTTPTransport(socket_options=NODELAY)
    return httpx.Client(
        base_url=gateway.url,
        headers={"Authorization": f"Key {gateway.key}", **KEYS},
        timeout=options.pop("timeout", 15),
        transport=transport,
        **options,
    )


def frames(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]] | None]:
    """SSE frames as they arrive: (event, data), or None for a `: ping` comment."""
    kind, data = "", ""
    for line in lines:
        if line.startswith(":"):
            yield None
        elif line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and kind:
            yield kind, msgspec.json.decode(data)
            kind, data = "", ""


def stream(
    gateway: RunningGateway,
    path: str = CHAT,
    body: dict[str, Any] | None = None,
    stop: Callable[[SSEResult], bool] | None = None,
    headers: dict[str, str] | None = None,
) -> SSEResult:
    """POST a streaming request and read the unified SSE; `stop` may end the read early,
    which closes the connection (the client leaving)."""
    with (
        client(gateway) as http,
        http.stream("POST", path, json={**(body or BODY), "stream": True}, headers=headers or {}) as response,
    ):
        result = SSEResult(response.status_code, dict(response.headers))
        if response.status_code != 200:
            result.body = response.read()
            return result
        for frame in frames(response.iter_lines()):
            if frame is None:
                result.pings += 1
            else:
                result.events.append(frame)
            if stop is not None and stop(result):
                break
        return result


def post(gateway: RunningGateway, path: str = CHAT, body: dict[str, Any] | None = None) -> httpx.Response:
    with client(gateway) as http:
        return http.post(path, json=body or BODY)


def usage_row(request_id: str, status: str) -> UsageRow:
    """A ledger row as dispatch writes it, for tests of the ledger alone."""
    now = time.time()
    return UsageRow(
        request_id=request_id, key_id="k", model="m", provider="openai", status=status, attempts=1,
        input_tokens=1, output_tokens=2, cached_input_tokens=0, reasoning_tokens=0, inference_time=0.1,
        meter="tokens", cost=None, error_code=None, started_at=now,
        finished_at=None if status == "started" else now,
    )  # fmt: skip


def ledger(gateway: RunningGateway | Path | str, settle: float = 5.0, count: int = 1) -> list[dict[str, Any]]:
    """The usage rows, once at least `count` exist and none is still `started` (final rows
    are written by the ledger's thread, a moment after the response). A gateway, an SQLite
    file, or a database URL (Postgres too)."""
    if isinstance(gateway, RunningGateway):
        url = gateway.settings.database_url
    else:
        url = str(gateway) if str(gateway).startswith(("sqlite:", "postgres")) else f"sqlite:///{gateway}"
    deadline = time.monotonic() + settle
    while True:
        if url.startswith("sqlite:"):
            with sqlite3.connect(sqlite_path(url)) as connection:
                connection.row_factory = sqlite3.Row
                rows = [dict(row) for row in connection.execute("SELECT * FROM usage ORDER BY started_at")]
        else:
            rows = database_rows(url)
        settled = len(rows) >= count and all(row["status"] != "started" for row in rows)
        if settled or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> float:
    """Poll until `condition` holds; returns `time.monotonic()` at that moment."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
    return time.monotonic()


def capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Building a Litestar app reconfigures logging and drops the root handlers, caplog's
    among them; put it back (after the gateway is built) so the gateway's records are seen."""
    root = logging.getLogger()
    if caplog.handler not in root.handlers:
        root.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
