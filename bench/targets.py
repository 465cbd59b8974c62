"""The processes a bench run measures, each started as its own process on loopback: the
fake upstream, the bare pass-through, and one `unigate serve` per configuration (and per
source tree, for a before/after A/B in one run).

CPU is read from /proc (user + system time of every thread of the process and of its
children, so `--workers 2` counts both workers); memory is the resident set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PYTHON = sys.executable

VARIANTS = {
    "unigate": "",
    "obs-off": "[metrics]\nenabled = false\n[logging]\naccess_log = false\n",
    "tracing": "[tracing]\nenabled = true\nsample_ratio = 1.0\n",
    "metrics-off": "[metrics]\nenabled = false\n",
    "access-off": "[logging]\naccess_log = false\n",
    "hold-0": "[database]\nfinal_row_hold = 0\n",
}
"""Configurations a run can compare. `unigate` is what `unigate serve` does by default
(metrics on, one JSON access line per request, tracing off); `obs-off` turns metrics and
the access line off; `tracing` samples every request into a provider with no exporter;
`metrics-off` and `access-off` each turn one of the two off, to tell their costs apart;
`hold-0` commits each ledger row at once (`[database] final_row_hold = 0`)."""
_BASE = (
    '[server]\npreload = ["openai"]\n'
    '[prices."openai/gpt-4o-mini"]\ninput = 0.15\ncached_input = 0.075\noutput = 0.60\n'
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _family(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the process for {url} exited: {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@dataclass
class Target:
    """Something the load is driven at: where, with what, and whose CPU it costs."""

    name: str
    url: str
    headers: dict[str, str]
    native: bool
    """Sends the native body (`/models/v2/...`) rather than the OpenAI one."""
    process: subprocess.Popen[bytes] | None = None
    commit: str = ""
    cleanup: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def commit_of(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def start_upstream(chunks: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([PYTHON, "-m", "bench.fake_upstream", str(port), str(chunks)], cwd=ROOT)
    return process, port


def start_passthrough(upstream_port: int) -> Target:
    port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
    process = subprocess.Popen([PYTHON, "-m", "bench.passthrough", str(port), upstream], cwd=ROOT)
    wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
    return Target(
        "pass-through",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"},
        native=False,
        process=process,
    )


def start_gateway(
    name: str,
    config_text: str,
    work: Path,
    upstream_port: int,
    *,
    tree: Path = ROOT,
    workers: int = 1,
    database_url: str | None = None,
    key_options: list[str] | None = None,
) -> Target:
    """`unigate serve` from `tree` with its own config, database and proxy key."""
    home = work / name
    home.mkdir(parents=True)
    config = home / "config.toml"
    config.write_text(_BASE + config_text)
    environ = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "UNIGATE_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "UNIGATE_DATABASE_URL": database_url or f"sqlite:///{home / 'unigate.db'}",
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = [PYTHON, "-m", "proxy.cli"]
    created = subprocess.run(
        [*cli, "keys", "create", "--name", "bench", "--config", str(config), *(key_options or [])],
        cwd=tree,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--config", str(config), "--port", str(port), "--workers", str(workers)],
        cwd=tree,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # not a terminal: JSON access lines, written as in production
    )
    wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
    return Target(
        name,
        f"http://127.0.0.1:{port}/models/v2/openai/gpt-4o-mini",
        {"Authorization": f"Key {key}", "Provider-Key": "sk-bench", "Content-Type": "application/json"},
        native=True,
        process=process,
        commit=commit_of(tree),
    )
