"""What a call cost: token prices for vendors, meter price × inference time for worker pools."""

from __future__ import annotations

from msgspec import UNSET

from schemas.chat import Usage
from schemas.config import ModelPrice, Pool
from schemas.events import Billing

TOKEN_METER = "tokens"  # noqa: S105 - a meter name, not a secret
LLM_PREFIX = "LLM-"
INSTANCE_SIZES = ("Micro", "XS", "SM", "MD", "LG", "XL", "XXL", "Super")
SEED_METERS: dict[str, float] = {
    # language models, USD per second of inference (docs.bytez.com, "Pricing")
    "LLM-Micro": 0.0000872083,
    "LLM-XS": 0.0001475035,
    "LLM-SM": 0.0006478333,
    "LLM-MD": 0.0008433876,
    "LLM-LG": 0.0012956667,
    "LLM-XL": 0.0024468774,
    "LLM-XXL": 0.0047912685,
    "LLM-Super": 0.0059890856,
    # all other models
    "Micro": 0.00053440,
    "XS": 0.00066800,
    "SM": 0.00427520,
    "MD": 0.00480960,
    "LG": 0.00855040,
    "XL": 0.01603200,
    "XXL": 0.02458240,
    "Super": 0.02992640,
}
"""The seed's two Inference Meter Price tables; `[meters]` in config.toml adds or overrides."""
LANGUAGE_TASKS = frozenset(
    {"chat", "text-generation", "image-text-to-text", "audio-text-to-text", "video-text-to-text"}
)


def pool_meter(pool: Pool) -> str:
    """The meter a pool bills on: a bare instance size (`SM`) on a language-model pool reads
    the language-model table (`LLM-SM`); any other name is taken as written."""
    if pool.meter in INSTANCE_SIZES and pool.task in LANGUAGE_TASKS:
        return LLM_PREFIX + pool.meter
    return pool.meter


def token_cost(usage: Usage, price: ModelPrice) -> float:
    """USD for one call; input read from and written to the prompt cache is billed at its own
    price where one is configured, else as fresh input."""
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    written = usage.cache_write_input_tokens if usage.cache_write_input_tokens is not UNSET else 0
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write if price.cache_write is not None else price.input
    fresh = max(usage.input_tokens - cached - written, 0)
    total = (
        fresh * price.input
        + cached * cached_price
        + written * write_price
        + usage.output_tokens * price.output
    )
    return round(total / 1_000_000, 10)


class Meter:
    def __init__(self, prices: dict[str, ModelPrice], meters: dict[str, float]) -> None:
        self._prices = prices
        self._meters = {**SEED_METERS, **meters}

    def meter_price(self, meter: str) -> float | None:
        return self._meters.get(meter)

    def price_for(self, model_id: str, provider: str | None, upstream: str) -> ModelPrice | None:
        return self._prices.get(model_id) or self._prices.get(f"{provider}/{upstream}")

    def vendor_billing(
        self, model_id: str, provider: str, upstream: str, usage: Usage, inference_time: float
    ) -> Billing:
        price = self.price_for(model_id, provider, upstream)
        cost = token_cost(usage, price) if price is not None else None
        return Billing(
            meter=TOKEN_METER, meter_price=None, inference_time=round(inference_time, 6), cost=cost
        )

    def pool_billing(self, meter: str, inference_time: float) -> Billing:
        """cost = meter price × the inference time as reported, so the figures a client sees
        multiply out exactly (up to the cost's own rounding)."""
        meter_price = self._meters.get(meter)
        seconds = round(inference_time, 6)
        cost = round(meter_price * seconds, 10) if meter_price is not None else None
        return Billing(meter=meter, meter_price=meter_price, inference_time=seconds, cost=cost)


def billing_headers(billing: Billing) -> dict[str, str]:
    headers = {"Inference-Meter": billing.meter, "Inference-Time": f"{billing.inference_time:.6f}"}
    if billing.meter_price is not None:
        headers["Inference-Meter-Price"] = repr(billing.meter_price)
    if billing.cost is not None:
        headers["Inference-Cost"] = f"{billing.cost:.10f}".rstrip("0").rstrip(".") or "0"
    return headers
