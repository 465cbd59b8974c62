"""Every answer from a catalogued model is priced from the shipped catalogue, identical
streamed and not: cost == tokens x the catalogue's prices, to the last digit (computed here
in Decimal from the file's own figures, as a client would from the vendor's price page)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from proxy.routing import catalogue_file
from tests.conftest import RunningGateway, start_gateway
from tests.surfaces.conftest import MODELS, RETRY_ONCE, VENDOR_KEY, Vendors

OVERRIDE = "openai/gpt-4.1-mini"
OVERRIDE_TOML = f'[prices."{OVERRIDE}"]\ninput = 0.123\ncached_input = 0.0456\noutput = 7.89\n'


@pytest.fixture(scope="module")
def priced(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway with no `[prices]` at all: every price is the catalogue's."""
    server, running = start_gateway(tmp_path_factory.mktemp("catalogue"), vendors.environ, RETRY_ONCE)
    yield running
    server.stop()


@pytest.fixture(scope="module")
def overridden(vendors: Vendors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    server, running = start_gateway(
        tmp_path_factory.mktemp("override"), vendors.environ, RETRY_ONCE + OVERRIDE_TOML
    )
    yield running
    server.stop()


def expected_cost(usage: dict[str, int], price: Any) -> Decimal:
    cached = usage.get("cached_input_tokens", 0)
    written = usage.get("cache_write_input_tokens", 0)
    fresh = usage["input_tokens"] - cached - written
    total = (
        fresh * Decimal(str(price.input))
        + cached * Decimal(str(price.cached_input if price.cached_input is not None else price.input))
        + written * Decimal(str(price.cache_write if price.cache_write is not None else price.input))
        + usage["output_tokens"] * Decimal(str(price.output))
    )
    return total / Decimal(1_000_000)


def _ask(running: RunningGateway, model: str, stream: bool) -> tuple[dict[str, int], Decimal, str]:
    body = {"messages": [{"role": "user", "content": "Hello"}], "stream": stream}
    with running.client(**{"Provider-Key": VENDOR_KEY}) as client:
        if not stream:
            answer = client.post(f"/models/v2/{model}", json=body)
            assert answer.status_code == 200, answer.text
            data = answer.json()
            assert answer.headers["Inference-Cost"] == format(Decimal(str(data["billing"]["cost"])), "f")
            return data["usage"], Decimal(str(data["billing"]["cost"])), answer.headers["Inference-Cost"]
        with client.stream(
            "POST", f"/models/v2/{model}", json=body, headers={"Accept": "text/event-stream"}
        ) as answer:
            assert answer.status_code == 200
            events = [
                json.loads(line[len("data: ") :]) for line in answer.iter_lines() if line.startswith("data: ")
            ]
    usage = next(e for e in events if e["type"] == "usage")
    billing = next(e for e in events if e["type"] == "billing")
    usage = {k: v for k, v in usage.items() if k != "type"}
    return usage, Decimal(str(billing["cost"])), ""


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("vendor", sorted(MODELS))
def test_a_catalogued_model_of_each_vendor_is_priced_to_the_last_digit(
    priced: RunningGateway, vendors: Vendors, vendor: str, stream: bool
) -> None:
    vendors.clear()
    model = MODELS[vendor]
    entry = catalogue_file.load().get(model)
    assert entry is not None and entry.price is not None
    usage, cost, _ = _ask(priced, model, stream)
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert cost > 0
    assert cost == expected_cost(usage, entry.price)


def test_a_prices_override_wins_over_the_catalogue(overridden: RunningGateway, vendors: Vendors) -> None:
    vendors.clear()
    usage, cost, _ = _ask(overridden, OVERRIDE, stream=False)
    override = overridden.settings.config.prices[OVERRIDE]
    assert cost == expected_cost(usage, override)
    shipped = catalogue_file.load().get(OVERRIDE)
    assert shipped is not None and shipped.price is not None
    assert cost != expected_cost(usage, shipped.price)


def test_the_override_is_what_the_catalogue_lists(overridden: RunningGateway) -> None:
    with overridden.client() as client:
        entry = client.get("/models/v2/list/models", params={"modelId": OVERRIDE}).json()["output"][0]
    assert (entry["inputPrice"], entry["cachedInputPrice"], entry["outputPrice"]) == (0.123, 0.0456, 7.89)


def test_v1_models_lists_the_catalogue_with_its_figures(priced: RunningGateway) -> None:
    with priced.client() as client:
        data = {item["id"]: item for item in client.get("/v1/models").json()["data"]}
    catalogue = catalogue_file.load()
    for model_id, model in catalogue.models.items():
        listed = data[model_id]
        assert listed["object"] == "model" and listed["owned_by"] == model_id.split("/")[0].replace(
            "google", "gemini"
        )
        assert listed["task"] == model.task and listed["known"] is True
        if model.context_window is not None:
            assert listed["contextSize"] == model.context_window
        if model.capabilities is not None:
            assert listed["capabilities"] == sorted(model.capabilities)
        if model.price is not None and model.price.input is not None:
            assert Decimal(str(listed["inputPrice"])) == model.price.input
