"""Count what a newcomer meets tracing one request: the gateway's source files a request runs
through, and how often it bounces back into a file it had already left.

    PYTHONPATH=. python -m tests.request_trace [--list] [--functions]

A real gateway (the production protocol, a real socket) is pointed at the fake vendors of
tests/fakes; each request is sent once to warm up (adapters and SDKs are imported on first
use), then again under a profiler installed in the gateway's server thread only, from the
moment the client sends until the gateway has finished with it (its access line and metrics
follow the last byte). Counted:

- files: the distinct files under proxy/, adapters/ and schemas/ in which a Python function
  ran (msgspec Structs and other C code run no Python frame, so a schemas module counts
  only when one of its functions ran);
- bounces: the distinct (from, to) pairs of files where a fresh call crossed into a file
  the request had already been in, from a project file other than itself (a coroutine
  resumed by the event loop is not a call; a call back into the file one just came from
  after it returned is counted, it is what a reader follows).

The profiler sees the gateway's thread only: the ledger's writer thread and the SQLite
key lookup run in threads of their own. The metrics sampler's periodic tick (every 2 s on
the same loop, no request's path) is slowed to once an hour, so it cannot fall inside a
traced request by chance.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from proxy.app import create_app
from proxy.gateway import Gateway
from proxy.observability import sampler
from proxy.server.protocol import ReceiptDeadlineProtocol
from proxy.settings import load_settings
from tests.fakes.anthropic import fake_anthropic
from tests.fakes.openai import fake_openai
from tests.fakes.server import ServerThread

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tuple(str(ROOT / package) + "/" for package in ("proxy", "adapters", "schemas"))
CHAT = [{"role": "user", "content": "Say hello"}]


def project_file(frame: FrameType) -> str | None:
    name = frame.f_code.co_filename
    return name[len(str(ROOT)) + 1 :] if name.startswith(PROJECT) else None


@dataclass
class Trace:
    thread: int = 0
    on: bool = False
    files: list[str] = field(default_factory=list)
    functions: dict[str, list[str]] = field(default_factory=dict)
    """Per file, the functions that ran in it, in the order they first did."""
    bounces: set[tuple[str, str]] = field(default_factory=set)
    frames: set[int] = field(default_factory=set)
    kept: list[FrameType] = field(default_factory=list)
    """Frames seen, kept alive so that an id is never reused while tracing."""

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not self.on or threading.get_ident() != self.thread:
            return
        here = project_file(frame)
        if here is None or id(frame) in self.frames:
            return  # library code, or a coroutine resumed: not a call a reader follows
        self.frames.add(id(frame))
        self.kept.append(frame)
        caller = frame.f_back
        while caller is not None and project_file(caller) is None:
            caller = caller.f_back
        origin = project_file(caller) if caller is not None else None
        named = self.functions.setdefault(here, [])
        if frame.f_code.co_qualname not in named:
            named.append(frame.f_code.co_qualname)
        if here not in self.files:
            self.files.append(here)
        elif origin != here:
            self.bounces.add((origin or "(event loop)", here))

    def reset(self) -> None:
        self.files.clear()
        self.functions.clear()
        self.bounces.clear()
        self.frames.clear()
        self.kept.clear()


SETTLE = 0.5
"""Seconds for what a request does after its last byte (its access line, metrics, the
ledger's observers) to finish on the gateway's thread."""


def measure(
    trace: Trace, send: Callable[[], None]
) -> tuple[list[str], dict[str, list[str]], set[tuple[str, str]]]:
    send()  # warm: first-use imports and client builds are not the request's path
    time.sleep(SETTLE)  # the warm-up's own tail is not this request's
    trace.reset()
    trace.on = True
    try:
        send()
        time.sleep(SETTLE)  # this request's tail is
    finally:
        trace.on = False
    return list(trace.files), dict(trace.functions), set(trace.bounces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print each trace's files and bounces")
    parser.add_argument("--functions", action="store_true", help="with each file, the functions that ran")
    arguments = parser.parse_args()
    listing, naming = arguments.list or arguments.functions, arguments.functions
    openai = ServerThread(fake_openai(), lifespan="off").start()
    anthropic = ServerThread(fake_anthropic(), lifespan="off").start()
    trace = Trace()
    sampler.INTERVAL = 3600.0
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "config.toml"
        config.write_text("")
        environ = {
            "UNIGATE_DATABASE_URL": f"sqlite:///{Path(directory) / 'unigate.db'}",
            "UNIGATE_OPENAI_BASE_URL": f"{openai.url}/v1",
            "UNIGATE_ANTHROPIC_BASE_URL": anthropic.url,
        }
        settings = load_settings(config, environ=environ)
        gateway = Gateway(settings)
        _, key = gateway.keys.create("trace")
        ReceiptDeadlineProtocol.deadline = settings.config.server.receipt_timeout
        threading.setprofile(trace.profile)  # threads started from here on: the gateway's
        server = ServerThread(create_app(settings, gateway), http=ReceiptDeadlineProtocol)
        server.thread.start()
        threading.setprofile(None)  # type: ignore[arg-type]
        while not server.server.started:
            threading.Event().wait(0.01)
        trace.thread = server.thread.ident or 0
        headers = {"Authorization": f"Key {key}", "Provider-Key": "sk-vendor-key"}
        client = httpx.Client(base_url=server.url, headers=headers, timeout=30)

        def native() -> None:
            answer = client.post("/models/v2/openai/gpt-4o-mini", json={"messages": CHAT})
            assert answer.status_code == 200, answer.text

        def native_stream() -> None:
            body = {"messages": CHAT, "stream": True}
            with client.stream("POST", "/models/v2/openai/gpt-4o-mini", json=body) as answer:
                assert answer.status_code == 200
                assert "event: done" in answer.read().decode()

        def openai_to_anthropic() -> None:
            body = {"model": "anthropic/claude-3-haiku-20240307", "messages": CHAT}
            answer = client.post("/v1/chat/completions", json=body)
            assert answer.status_code == 200, answer.text

        traces = {
            "POST /models/v2/openai/gpt-4o-mini (JSON)": native,
            "POST /models/v2/openai/gpt-4o-mini (streamed)": native_stream,
            "POST /v1/chat/completions → anthropic/claude-3-haiku-20240307": openai_to_anthropic,
        }
        try:
            for name, send in traces.items():
                files, functions, bounces = measure(trace, send)
                print(f"{name}: {len(files)} files, {len(bounces)} bounces")
                if listing:
                    for number, path in enumerate(files, 1):
                        print(f"  {number:2} {path}")
                        if naming:
                            print(f"       {', '.join(functions[path])}")
                    for origin, target in sorted(bounces):
                        print(f"     back: {origin} -> {target}")
        finally:
            client.close()
            server.stop()
            openai.stop()
            anthropic.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
