"""What a call cost: token prices for vendors, meter price × inference time for worker pools."""

from __future__ import annotations

from msgspec import UNSET

from schemas.chat import Usage
from schemas.config import ModelPrice
from schemas.events import Billing

TOKEN_METER = "tokens"  # noqa: S105 - a meter name, not a secret


def token_cost(usage: Usage, price: ModelPrice) -> float:
    """USD for one call; cached input is billed at its own price where one is configured."""
    cached = usage.cached_input_tokens if usage.cached_input_tokens is not UNSET else 0
    cached_price = price.cached_input if price.cached_input is not None else price.input
    fresh = max(usage.input_tokens - cached, 0)
    total = fresh * price.input + cached * cached_price + usage.output_tokens * price.output
    return round(total / 1_000_000, 10)


class Meter:
    def __init__(self, prices: dict[str, ModelPrice], meters: dict[str, float]) -> None:
        self._prices = prices
        self._meters = meters

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
        meter_price = self._meters.get(meter)
        cost = round(meter_price * inference_time, 10) if meter_price is not None else None
        return Billing(
            meter=meter, meter_price=meter_price, inference_time=round(inference_time, 6), cost=cost
        )


def billing_headers(billing: Billing) -> dict[str, str]:
    headers = {"Inference-Meter": billing.meter, "Inference-Time": f"{billing.inference_time:.6f}"}
    if billing.meter_price is not None:
        headers["Inference-Meter-Price"] = repr(billing.meter_price)
    if billing.cost is not None:
        headers["Inference-Cost"] = f"{billing.cost:.10f}".rstrip("0").rstrip(".") or "0"
    return headers
