"""`/v1/embeddings` through every vendor that embeds, and the worker-pool seam."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from adapters.base import Capabilities, EmbeddingCall
from proxy.dispatch.call import Lease
from schemas.chat import Usage
from schemas.embeddings import EmbeddingResponse
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.openai import fake_vector
from tests.fakes.server import FakeVendor
from tests.surfaces.conftest import (
    EMBEDDING_MODELS,
    VENDOR_KEY,
    Vendors,
    gateway_config,
    ledger_rows,
    model_rows,
    openai_client,
)

TEXTS = ["The food was delicious", "and the waiter", "was friendly too"]
UPSTREAM_PATHS = {
    "openai": "/v1/embeddings",
    "gemini": "/v1beta/models/gemini-embedding-001:batchEmbedContents",
    "cohere": "/v2/embed",
    "mistral": "/v1/embeddings",
}


@pytest.mark.parametrize("vendor", list(EMBEDDING_MODELS))
def test_default_base64_answer_decodes_to_the_vendor_vectors(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    with openai_client(running) as client:
        answer = client.embeddings.create(model=EMBEDDING_MODELS[vendor], input=TEXTS)
    assert answer.object == "list"
    assert answer.model == EMBEDDING_MODELS[vendor]
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert [item.embedding for item in answer.data] == [fake_vector(text) for text in TEXTS]
    upstream = fakes[vendor].last
    assert upstream.path == UPSTREAM_PATHS[vendor]
    assert VENDOR_KEY in upstream.headers.get("authorization", "") + upstream.headers.get(
        "x-goog-api-key", ""
    )


@pytest.mark.parametrize("vendor", list(EMBEDDING_MODELS))
def test_float_answer_with_dimensions(
    running: RunningGateway, fakes: dict[str, FakeVendor], vendor: str
) -> None:
    with openai_client(running) as client:
        raw = client.embeddings.with_raw_response.create(
            model=EMBEDDING_MODELS[vendor], input="one text", dimensions=4, encoding_format="float"
        )
    answer = raw.parse()
    assert [item.embedding for item in answer.data] == [fake_vector("one text", 4)]
    assert raw.http_response.json()["data"][0]["embedding"] == fake_vector("one text", 4)
    if vendor != "gemini":
        assert answer.usage.prompt_tokens == 2
        assert answer.usage.total_tokens == 2
    rows = ledger_rows(running, raw.headers["x-request-id"])
    assert [(row["status"], row["provider"], row["model"]) for row in rows] == [
        ("completed", vendor, EMBEDDING_MODELS[vendor])
    ]


def test_each_vendor_gets_its_own_wire(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with openai_client(running) as client:
        for vendor in EMBEDDING_MODELS:
            client.embeddings.create(model=EMBEDDING_MODELS[vendor], input=["x"], dimensions=16)
    assert fakes["openai"].last.json() == {
        "model": "text-embedding-3-small",
        "input": ["x"],
        "encoding_format": "float",
        "dimensions": 16,
    }
    assert fakes["gemini"].last.json() == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "x"}]},
                "outputDimensionality": 16,
            }
        ]
    }
    assert fakes["cohere"].last.json() == {
        "input_type": "search_document",
        "model": "embed-v4.0",
        "texts": ["x"],
        "embedding_types": ["float"],
        "output_dimension": 16,
    }
    assert fakes["mistral"].last.json() == {
        "model": "mistral-embed",
        "input": ["x"],
        "encoding_format": "float",
        "output_dimension": 16,
    }


def test_vendor_options_travel_in_extra_body(running: RunningGateway, fakes: dict[str, FakeVendor]) -> None:
    with openai_client(running) as client:
        client.embeddings.create(
            model=EMBEDDING_MODELS["cohere"], input="query", extra_body={"input_type": "search_query"}
        )
    assert fakes["cohere"].last.json()["input_type"] == "search_query"


def test_cost_is_in_usage(running: RunningGateway) -> None:
    with openai_client(running) as client:
        raw = client.embeddings.with_raw_response.create(model=EMBEDDING_MODELS["openai"], input=TEXTS)
    usage = raw.http_response.json()["usage"]
    assert usage["prompt_tokens"] == 10
    assert usage["cost"] == pytest.approx(10 * 0.02 / 1e6)
    assert raw.headers["inference-cost"]


def test_vendor_error_is_the_sdk_class_and_a_ledger_row(running: RunningGateway) -> None:
    with openai_client(running) as client, pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="mistral/no-such-embedder", input="x")
    assert caught.value.code == "not_found"
    body: Any = caught.value.body
    assert body["type"] == "not_found_error"
    assert "mistral" in body["message"]
    [row] = model_rows(running, "mistral/no-such-embedder")
    assert (row["status"], row["error_code"], row["provider"]) == ("upstream_error", "not_found", "mistral")


def test_a_vendor_without_embeddings_is_a_400(running: RunningGateway) -> None:
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="anthropic/claude-sonnet-4-5-20250929", input="x")
    assert caught.value.code == "unsupported"


def test_token_inputs_are_refused(running: RunningGateway) -> None:
    with openai_client(running) as client, pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING_MODELS["openai"], input=[[1, 2, 3]])
    assert caught.value.code == "invalid_request"


class RecordingEmbedder:
    """A worker adapter that embeds without a worker: records the call dispatch built."""

    name = "pool:gpu-a"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.calls: list[EmbeddingCall] = []

    async def embed(self, call: EmbeddingCall) -> EmbeddingResponse:
        self.calls.append(call)
        return EmbeddingResponse(
            vectors=[[0.5, 0.25] for _ in call.request.texts], usage=Usage(input_tokens=3)
        )


class OneMemberPools:
    """Stands in for the pool subsystem at the dispatcher's seam: one member, always free."""

    def __init__(self) -> None:
        self.embedder = RecordingEmbedder()
        self.released: list[bool] = []

    async def acquire(self, pool: str, exclude: frozenset[str]) -> Lease:
        return Lease(
            adapter=self.embedder,  # type: ignore[arg-type]  # embeds only, as a pool adapter may
            provider=f"pool:{pool}",
            endpoint="http://member-1",
            base_url="http://member-1/v1",
            meter="LLM-SM",
            release=self.released.append,
        )

    def served(self, pool: str) -> frozenset[str] | None:
        return None


POOL_CONFIG = """
[meters]
SM = 0.0002

[[pools]]
name = "gpu-a"
urls = ["http://127.0.0.1:9"]
models = ["BAAI/*"]
meter = "SM"
"""


@pytest.fixture
def pool_gateway(vendors: Vendors, tmp_path: Path) -> Iterator[RunningGateway]:
    server, running = start_gateway(tmp_path, vendors.environ, gateway_config(POOL_CONFIG))
    yield running
    server.stop()


def test_pool_target_without_pools_is_a_501(
    pool_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_gateway.gateway.dispatcher, "pools", None)
    with openai_client(pool_gateway) as client, pytest.raises(openai.InternalServerError) as caught:
        client.embeddings.create(model="BAAI/bge-small-en-v1.5", input="x")
    assert caught.value.status_code == 501
    assert caught.value.code == "unsupported"


def test_pool_target_embeds_on_a_leased_member_billed_on_the_embedding_meter(
    pool_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = OneMemberPools()
    monkeypatch.setattr(pool_gateway.gateway.dispatcher, "pools", pools)
    with openai_client(pool_gateway) as client:
        raw = client.embeddings.with_raw_response.create(
            model="BAAI/bge-small-en-v1.5", input=["a", "b"], encoding_format="float"
        )
    answer = raw.parse()
    assert [item.embedding for item in answer.data] == [[0.5, 0.25], [0.5, 0.25]]
    [call] = pools.embedder.calls
    assert call.request.texts == ["a", "b"]
    assert (call.model, call.base_url, call.api_key) == ("BAAI/bge-small-en-v1.5", "http://member-1/v1", "")
    assert pools.released == [True]
    # the pool is a chat pool (`SM` reads LLM-SM for chat); an embedding bills the instance's own SM
    assert raw.headers["inference-meter"] == "SM"
    [row] = ledger_rows(pool_gateway, raw.headers["x-request-id"])
    assert (row["status"], row["provider"], row["meter"], row["attempts"]) == (
        "completed",
        "pool:gpu-a",
        "SM",
        1,
    )
    assert row["input_tokens"] == 3
