"""A real `unigate serve` in its own process, as a user starts it: the command line, a
config.toml, a SQLite file, vendor base URLs pointing at fakes that run in the test process.

Tests that need what only the real program does (its first-run print, its uvloop and
protocol, its multiprocess metrics, a CLI that talks to it over a socket) start one of these
instead of the in-process `start_gateway`. The output goes to a file, read by `output()`.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proxy.identity.keys import KeyStore

REPOSITORY = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class UnigateServe:
    directory: Path
    config_text: str
    environ: dict[str, str] = field(default_factory=dict)
    """Added to this process's environment (the fakes' `UNIGATE_<VENDOR>_BASE_URL`s)."""
    make_key: bool = True
    """Create a proxy key before the start (as `unigate keys create` would)."""
    arguments: tuple[str, ...] = ()
    key: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.directory / "unigate.db"

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "serve.log"

    def start(self, timeout: float = 60) -> UnigateServe:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text)
        if self.make_key:
            store = KeyStore(f"sqlite:///{self.database}")
            try:
                _, self.key = store.create("tests")
            finally:
                store.close()
        self.port = free_port()
        environ = {**os.environ, "UNIGATE_DATABASE_URL": f"sqlite:///{self.database}", **self.environ}
        environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each serve makes its own
        command = [sys.executable, "-m", "proxy.cli", "serve", "--config", str(self.config_path)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), *self.arguments]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPOSITORY, env=environ, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"unigate serve did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Key {self.key}", **headers}, timeout=10
        )

    def rows(self) -> list[dict[str, Any]]:
        """The ledger, read straight from the SQLite file."""
        with sqlite3.connect(self.database) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute("SELECT * FROM usage")]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
