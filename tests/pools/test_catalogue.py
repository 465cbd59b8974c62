"""The catalogue from routes and pools: `list/models`, `list/tasks`, `/v1/models`."""

from __future__ import annotations

import pytest

from proxy.accounting.metering import SEED_METERS
from tests.conftest import RunningGateway
from tests.pools.conftest import GPT2, GatewayFactory, pool_toml, refusing_url

CONFIG = (
    pool_toml(
        "gpu", [refusing_url()], models=["NousResearch/*", "openai/gpt-oss-*", "mistralai/*"], meter="SM"
    )
    + pool_toml(
        "gpt2", [refusing_url()], protocol="bytez", models=[GPT2], task="text-generation", meter="Micro"
    )
    + pool_toml(
        "vectors", [refusing_url()], models=["BAAI/bge-small-en-v1.5"], task="feature-extraction", meter="XS"
    )
)


@pytest.fixture
def running(pool_gateway: GatewayFactory) -> RunningGateway:
    return pool_gateway(CONFIG)


@pytest.mark.parametrize(
    ("model_id", "task", "pool", "meter"),
    [
        (GPT2, "text-generation", "gpt2", "LLM-Micro"),
        ("NousResearch/Hermes-3-Llama-3.1-8B", "chat", "gpu", "LLM-SM"),
        ("openai/gpt-oss-20b", "chat", "gpu", "LLM-SM"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "chat", "gpu", "LLM-SM"),
        ("BAAI/bge-small-en-v1.5", "feature-extraction", "vectors", "XS"),
    ],
)
def test_every_pool_model_answers_its_task_and_price(
    running: RunningGateway, model_id: str, task: str, pool: str, meter: str
) -> None:
    with running.client() as client:
        response = client.get("/models/v2/list/models", params={"modelId": model_id})
    assert response.status_code == 200
    assert response.json() == {
        "output": [
            {
                "modelId": model_id,
                "task": task,
                "pool": pool,
                "meter": meter,
                "meterPrice": SEED_METERS[meter],
            }
        ],
        "error": None,
    }


def test_proprietary_ids_still_route_to_their_vendor(running: RunningGateway) -> None:
    with running.client() as client:
        entries = client.get("/models/v2/list/models", params={"modelId": "openai/gpt-4o-mini"}).json()[
            "output"
        ]
        other = client.get(
            "/models/v2/list/models", params={"modelId": "mistral/mistral-small-latest"}
        ).json()["output"]
    assert entries[0]["provider"] == "openai" and "pool" not in entries[0]
    assert other[0]["provider"] == "mistral"


def test_listing_by_task_and_the_task_list(running: RunningGateway) -> None:
    with running.client() as client:
        listed = client.get("/models/v2/list/models", params={"task": "text-generation"}).json()["output"]
        tasks = client.get("/models/v2/list/tasks").json()["output"]
    assert [entry["modelId"] for entry in listed] == [GPT2]
    assert {"chat", "text-generation", "feature-extraction"} <= set(tasks)


def test_openai_models_lists_pool_models(running: RunningGateway) -> None:
    with running.client() as client:
        data = client.get("/v1/models").json()["data"]
    owners = {item["id"]: item["owned_by"] for item in data}
    assert owners[GPT2] == "pool:gpt2"
    assert owners["BAAI/bge-small-en-v1.5"] == "pool:vectors"
