"""Issue 13: `unigate serve --workers 2` reports one view: the counts of both workers add up
on the metrics port of their supervisor, behind its token; the log is JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.identity.keys import KeyStore
from tests.fakes.openai import fake_openai
from tests.fakes.server import ServerThread
from tests.reliability.harness import KEYS, OPENAI_ONLY, config
from tests.serve_process import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-4b1d9e7f2a"


@pytest.fixture
def vendor_url() -> Iterator[str]:
    server = ServerThread(fake_openai(), lifespan="off").start()
    yield server.url
    server.stop()


def requests_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "unigate_requests_total"
    )


@pytest.mark.timeout(90)
def test_two_workers_add_up_on_the_metrics_port(tmp_path: Path, vendor_url: str) -> None:
    database = tmp_path / "unigate.db"
    store = KeyStore(f"sqlite:///{database}")
    _, key = store.create("workers")
    store.close()
    port, metrics_port = free_port(), free_port()
    (tmp_path / "config.toml").write_text(
        config() + f'\n[metrics]\nport = {metrics_port}\ntoken = "{TOKEN}"\n'
    )
    environ = {
        **os.environ,
        "UNIGATE_DATABASE_URL": f"sqlite:///{database}",
        "UNIGATE_OPENAI_BASE_URL": f"{vendor_url}/v1",
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "serve", "--config", str(tmp_path / "config.toml"),
             "--port", str(port), "--workers", "2"],
            cwd=REPOSITORY, env=environ, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(metrics_url, timeout=5).status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        before = requests_total(httpx.get(metrics_url, headers=bearer, timeout=5).text)
        headers = {"Authorization": f"Key {key}", **KEYS}
        body = {"messages": [{"role": "user", "content": "hi"}]}
        for _ in range(12):  # a new connection each: the kernel spreads them over the workers
            assert (
                httpx.post(f"{url}{OPENAI_ONLY}", json=body, headers=headers, timeout=10).status_code == 200
            )
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 404  # only on its own port
        deadline = time.monotonic() + 10
        while requests_total(httpx.get(metrics_url, headers=bearer, timeout=5).text) - before < 13:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert (
            requests_total(httpx.get(metrics_url, headers=bearer, timeout=5).text) - before == 13
        )  # and the 404
    finally:
        process.terminate()
        process.wait(20)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "unigate.access"]
    assert len(access) == 13  # the 12 calls and the 404 for /metrics on the gateway's port
    assert {line["status"] for line in access} == {200, 404}
    assert key not in log_path.read_text()
