"""Added latency and throughput of unigate, against a direct call to the same fake upstream.

    .venv/bin/python -m bench.run [--seconds 5] [--connections 1,16,64] [--modes json,stream]
        [--database-url URL | --database-url pgserver] [--redis-url URL] [--key-options "--budget 1e6"]

Starts a cheap fake OpenAI (bench/fake_upstream.py) and `unigate serve` (one worker, auth,
routing, the openai SDK call and the ledger write all on) as separate processes, then, in
this process, drives the same request directly at the fake and through the gateway with
N concurrent keep-alive connections. Prints, per mode and concurrency: p50/p99 latency,
time to first byte, requests/s, the gateway's CPU per request, and the ratios.

The multi-replica backends: `--database-url` puts keys and the ledger in that database
(`pgserver`: a Postgres started for the run from the dev dependency of that name),
`--redis-url` the per-key limits in Redis (the key then gets limits high enough never to
bind, so every call runs the admission script); `--key-options` adds `unigate keys create`
flags (a `--budget` makes every call reserve and settle).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "messages": [{"role": "user", "content": "Hello my name is Bob and I like to eat"}],
    "params": {"max_tokens": 100},
}
DIRECT_BODY = {"model": "gpt-4o-mini", "messages": BODY["messages"], "max_completion_tokens": 100}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    first_bytes: list[float]

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def drive(
    url: str, payload: bytes, headers: dict[str, str], connections: int, seconds: float
) -> Result:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    latencies: list[float] = []
    first_bytes: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers=headers) as response:
                        first = None
                        async for _ in response.content.iter_any():
                            if first is None:
                                first = time.perf_counter()
                        if response.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                end = time.perf_counter()
                latencies.append(end - start)
                first_bytes.append((first or end) - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return Result(len(latencies), errors, elapsed, latencies, first_bytes)


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"process for {url} exited: {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--modes", default="json,stream")
    parser.add_argument(
        "--database-url", help="default: SQLite in a temporary folder; 'pgserver' starts a Postgres"
    )
    parser.add_argument("--redis-url", help="per-key limits in this Redis")
    parser.add_argument("--key-options", default="", help="more `unigate keys create` flags")
    arguments = parser.parse_args()
    levels = [int(level) for level in arguments.connections.split(",")]

    work = Path(tempfile.mkdtemp(prefix="unigate-bench-"))
    upstream_port, gateway_port = free_port(), free_port()
    python = sys.executable
    upstream = subprocess.Popen([python, "-m", "bench.fake_upstream", str(upstream_port)], cwd=ROOT)
    config = work / "config.toml"
    text = '[server]\npreload = ["openai"]\n[prices."openai/gpt-4o-mini"]\ninput = 0.15\ncached_input = 0.075\noutput = 0.60\n'
    key_options = arguments.key_options.split()
    if arguments.redis_url:
        text += f'[limits]\nbackend = "redis"\nredis_url = "{arguments.redis_url}"\n'
        key_options += ["--rpm", "100000000", "--tpm", "1000000000", "--concurrency", "100000"]
    config.write_text(text)
    database_url = arguments.database_url or f"sqlite:///{work / 'unigate.db'}"
    postgres = None
    if database_url == "pgserver":
        import pgserver

        postgres = pgserver.get_server(work / "postgres", cleanup_mode="stop")
        database_url = postgres.get_uri()
    environ = {
        **os.environ,
        "UNIGATE_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "UNIGATE_DATABASE_URL": database_url,
    }
    created = subprocess.run(
        [
            python,
            "-m",
            "proxy.cli",
            "keys",
            "create",
            "--name",
            "bench",
            "--config",
            str(config),
            *key_options,
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    gateway = subprocess.Popen(
        [python, "-m", "proxy.cli", "serve", "--config", str(config), "--port", str(gateway_port)],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{gateway_port}/healthz", gateway)
        time.sleep(0.5)
        direct_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
        gateway_url = f"http://127.0.0.1:{gateway_port}/models/v2/openai/gpt-4o-mini"
        direct_headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
        gateway_headers = {
            "Authorization": f"Key {key}",
            "Provider-Key": "sk-bench",
            "Content-Type": "application/json",
        }
        # warm up, then read idle memory
        uvloop.run(drive(gateway_url, json.dumps(BODY).encode(), gateway_headers, 4, 1.0))
        time.sleep(1.0)
        idle_rss = rss_mib(gateway.pid)
        rows = []
        for mode in arguments.modes.split(","):
            streamed = mode == "stream"
            direct_payload = json.dumps({**DIRECT_BODY, "stream": streamed}).encode()
            gateway_payload = json.dumps({**BODY, "stream": streamed}).encode()
            for connections in levels:
                direct = uvloop.run(
                    drive(direct_url, direct_payload, direct_headers, connections, arguments.seconds)
                )
                cpu_before = cpu_seconds(gateway.pid)
                through = uvloop.run(
                    drive(gateway_url, gateway_payload, gateway_headers, connections, arguments.seconds)
                )
                cpu = (cpu_seconds(gateway.pid) - cpu_before) / max(through.requests, 1) * 1000
                rows.append((mode, connections, direct, through, cpu))
        print(
            f"\nunigate benchmark: {arguments.seconds:.0f} s per run, one gateway worker, {os.cpu_count()} cores"
        )
        print(f"idle RSS of the gateway process: {idle_rss:.1f} MiB\n")
        header = (
            "mode",
            "conns",
            "direct p50",
            "gw p50",
            "added p50",
            "direct p99",
            "gw p99",
            "added p99",
            "added TTFB p50",
            "direct rps",
            "gw rps",
            "rps ratio",
            "gw CPU/req",
            "errors",
        )
        print(" | ".join(header))
        print(" | ".join("---" for _ in header))
        for mode, connections, direct, through, cpu in rows:
            cells = (
                mode,
                str(connections),
                f"{direct.percentile(direct.latencies, 0.5):.2f} ms",
                f"{through.percentile(through.latencies, 0.5):.2f} ms",
                f"{through.percentile(through.latencies, 0.5) - direct.percentile(direct.latencies, 0.5):.2f} ms",
                f"{direct.percentile(direct.latencies, 0.99):.2f} ms",
                f"{through.percentile(through.latencies, 0.99):.2f} ms",
                f"{through.percentile(through.latencies, 0.99) - direct.percentile(direct.latencies, 0.99):.2f} ms",
                f"{through.percentile(through.first_bytes, 0.5) - direct.percentile(direct.first_bytes, 0.5):.2f} ms",
                f"{direct.rps:.0f}",
                f"{through.rps:.0f}",
                f"{through.rps / direct.rps:.3f}",
                f"{cpu:.2f} ms",
                str(direct.errors + through.errors),
            )
            print(" | ".join(cells))
    finally:
        gateway.terminate()
        upstream.terminate()
        gateway.wait(30)
        upstream.wait(10)
        if postgres is not None:
            postgres.cleanup()


if __name__ == "__main__":
    main()
