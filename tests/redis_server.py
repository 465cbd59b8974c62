"""A real `redis-server` for the limiter tests, beside fakeredis: the Lua admission script,
leases and server time proven on the server users run (Debian's `redis-server` package;
`.ci/run` installs it when missing).

Each use starts its own server on a free loopback port, with no persistence, and stops it
at the end, so a test can also take Redis away mid-call. Without the binary the tests that
need it skip, saying why; under `CI=true` a missing binary fails them instead, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

BINARY = "redis-server"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def require_redis_server() -> str:
    """The binary's path; skips (or, under CI, fails) the test when it is not installed."""
    path = shutil.which(BINARY)
    if path is None:
        reason = f"{BINARY} is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the real-Redis tests")
        pytest.skip(reason)
    return path


@contextlib.contextmanager
def real_redis_server(directory: Path) -> Iterator[str]:
    """A `redis-server` on 127.0.0.1:<free port>, gone (connections refused) once the block ends."""
    binary = require_redis_server()
    for _ in range(5):  # the port was free a moment ago; another process may take it first
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        if _wait_ready(process, url):
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError(f"{BINARY} did not start")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False  # exited: the port was taken
        with contextlib.suppress(redis.ConnectionError), redis.Redis.from_url(url) as client:
            if client.ping():
                return True
        time.sleep(0.02)
    return False
